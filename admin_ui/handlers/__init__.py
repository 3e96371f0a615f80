"""HTTP handlers, one module per resource; :mod:`edgeos.admin_ui.app` lists the routes."""
