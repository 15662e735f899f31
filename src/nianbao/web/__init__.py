"""``nianbao serve``: the whole workflow as local web pages (Starlette, Jinja2, no CDN).

Kept free of heavy imports: the background job processes import ``nianbao.web.jobs``.
"""
