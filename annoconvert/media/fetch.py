"""Downloading an http(s) image (only with `--fetch-remote`).

Its own module so that urllib.request, and the http, ssl and email modules under it (about
11 ms of start-up), are imported only by a run that downloads.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import IO, Any


def open_url(uri: str, timeout: float) -> Any:
    """The response to a GET of `uri` (a context manager); redirects only to http(s)."""
    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    request = urllib.request.Request(uri, headers={"User-Agent": "annoconvert"})
    return opener.open(request, timeout=timeout)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s) (urllib would also follow ftp)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: object,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not newurl.lower().startswith(("http://", "https://")):
            raise urllib.error.URLError(f"redirect to a non-http URL refused: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]
