"""Plugin UI in sandboxed frames (SPEC U5-U7, X6): the second of the console's two worlds.

What Jupiter renders from a manifest (settings form, metrics, logs, control and help panels)
is in the console's own page. Everything a plugin authors (panel, widget and tab templates,
its renderers' data, its JavaScript and CSS) is served as a document of its own, shown in an
``<iframe sandbox="allow-scripts">`` and sent with a ``sandbox allow-scripts``
Content-Security-Policy, so it runs in an opaque origin: no cookie, session, CSRF token or
console DOM is reachable from it. It talks to the console only through
``window.jupiterBridge`` (``static/jupiter/frame/bridge.js``), whose messages the console's
``static/jupiter/frames.js`` checks and carries out for it.

- ``policy``: the frame's and the assets' Content-Security-Policy, and asset tokens;
- ``files``: which plugin files a frame may load, read inside the folder and as signed;
- ``availability``: whether anything of a plugin may be served at all (enabled, loaded,
  trusted).
"""
