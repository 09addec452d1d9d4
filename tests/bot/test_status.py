"""Previews from job events: data URLs decoded for an attachment, anything else ignored."""

from __future__ import annotations

import base64

from bot.status import decode_preview


def test_webp_data_url_is_decoded() -> None:
    """The workers' `data:image/webp;base64,` preview gives its bytes and file type."""
    url = "data:image/webp;base64," + base64.b64encode(b"RIFF0000WEBP").decode()
    assert decode_preview(url) == (b"RIFF0000WEBP", "webp")


def test_malformed_previews_are_ignored() -> None:
    """No preview, another scheme, broken base64 or an odd type: no attachment, no error."""
    for url in (None, 3, "https://x/y.png", "data:image/webp;base64,@@@", "data:image/../x;base64,AAAA"):
        assert decode_preview(url) is None
