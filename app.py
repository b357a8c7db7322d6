"""Start the 报告问答 chat app: ``python app.py [--host H] [--port P] [--share] [--verbose]``
(the same as ``qa serve``; see :mod:`qa.ui.serve`)."""

from qa.ui.serve import main

if __name__ == "__main__":
    main()
