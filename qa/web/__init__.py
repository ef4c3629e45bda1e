"""The web chat: conversations, the source pane, HTML and the Gradio app (:mod:`qa.web.app` alone imports gradio).

Above every layer: it answers through :class:`qa.live.LiveIndex` and renders what comes back.
"""
