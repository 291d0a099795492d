"""What can go wrong while getting a model, each with text written for the person reading it.

Every error says which repository (or file) and what to do next. The Hub's own error codes
(``X-Error-Code``: ``GatedRepo``, ``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) and its
status codes are mapped here once (:func:`from_response`), so a token the Hub refuses is never
reported as "repository not found" and a gated model says where its licence is accepted.
"""

from __future__ import annotations

from inference.errors import Cancelled, InferenceError


class HubError(InferenceError):
    """Base of the expected download errors. ``retry``: worth trying again later (network, server)."""

    retry = False


class Offline(HubError):
    """Downloads are switched off (``HF_HUB_OFFLINE``)."""


class NetworkError(HubError):
    """The Hub could not be reached, or the connection kept dropping after every retry."""

    retry = True


class ServerError(HubError):
    """The Hub answered 5xx (or 429) after every retry."""

    retry = True


class RepoNotFound(HubError):
    pass


class RevisionNotFound(HubError):
    pass


class FileNotOnHub(HubError):
    pass


class GatedRepo(HubError):
    """A gated model and no token: accept the licence, then enter a token."""


class NoAccess(HubError):
    """A token the Hub accepts, but that has not been granted this (gated or private) model."""


class TokenRefused(HubError):
    """The Hub refused the token itself (401: invalid credentials)."""


class ChecksumMismatch(HubError):
    """A finished file is not the file the Hub lists (its sha256 differs)."""

    retry = True


class DiskFull(HubError):
    """Not enough disk space for the download (checked before, and met while writing)."""


class BadAnswer(HubError):
    """The server answered something that is not what the Hub sends (a proxy's page, damaged JSON)."""

    retry = True


class Paused(Cancelled):
    """The download was paused: the partial files are kept and it continues from where it stopped."""

    def __init__(self, message: str = "the download was paused; it continues from where it stopped") -> None:
        super().__init__(message)


def page(endpoint: str, repo: str) -> str:
    """The model's page on the Hub (where its licence is accepted)."""
    return f"{endpoint.rstrip('/')}/{repo}"


TOKEN_HINT = "Edit › Hugging Face token… in the window, or `akapen models login` (a token with read access)"


def from_response(status: int, headers, body: str, *, repo: str, endpoint: str, token: bool,
                  what: str = "") -> HubError:
    """The error for a non-2xx answer of the Hub. ``token``: whether one was sent."""
    code = (headers.get("X-Error-Code") or "").strip()
    message = " ".join((headers.get("X-Error-Message") or body or "").split())[:200]
    thing = what or repo
    if code == "GatedRepo" or (status == 403 and "gated" in message.lower()):
        if token:
            return NoAccess(f"{repo} is a gated model and your Hugging Face token has not been granted access: "
                            f"open {page(endpoint, repo)}, log in as the token's owner and accept the licence "
                            "(some are granted by hand: wait for the e-mail), then try again")
        return GatedRepo(f"{repo} is a gated model: open {page(endpoint, repo)}, log in and accept its licence, "
                         f"then enter a Hugging Face token with read access ({TOKEN_HINT}) and try again")
    if status == 401 and token and code != "RepoNotFound":
        return TokenRefused(f"the Hub refused your Hugging Face token ({status}: {message or 'invalid credentials'}); "
                            f"it may be mistyped, expired or revoked: create a new one at "
                            f"{endpoint.rstrip('/')}/settings/tokens and enter it ({TOKEN_HINT})")
    if code == "RepoNotFound" or (status in (401, 404) and not code and not what):
        private = "" if token else "; a private repository needs a token with access"
        return RepoNotFound(f"no model {repo!r} on {endpoint.rstrip('/')}: check the id (org/name){private}")
    if code == "RevisionNotFound":
        return RevisionNotFound(f"{repo} has no revision {message.split()[-1] if message else ''}".rstrip()
                                + ": check --revision (a branch, tag or commit)")
    if code == "EntryNotFound" or (status == 404 and what):
        return FileNotOnHub(f"{thing}: not on the Hub ({message or 'no such file'}); check the file name")
    if status == 403:
        return NoAccess(f"the Hub refused access to {thing} (403: {message or 'forbidden'})"
                        + ("" if token else f"; it may need a Hugging Face token ({TOKEN_HINT})"))
    if status == 429:
        return ServerError(f"the Hub asked to slow down (429) while fetching {thing}; try again in a few minutes")
    if status >= 500:
        return ServerError(f"the Hub answered {status} for {thing} after several tries ({message or 'server error'}); "
                           "the download is kept: continue it later")
    return BadAnswer(f"the Hub answered {status} for {thing} ({message or 'unexpected answer'})")
