"""The web chat: conversations, the source pane, HTML and the Gradio app (:mod:`qa.web.app` alone imports gradio).

It answers through :class:`qa.live.LiveIndex` and renders what comes back: it may import
every layer below it (up to :mod:`qa.eval`, for votes); never :mod:`qa.cli`, which
launches it.
"""
