"""HTTP handlers, one module per resource; :mod:`admin_ui.app` lists the routes."""
