"""Starting and completing sign-ins, for the API and the CLI alike."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from omniroute.errors import NotFound
from omniroute.providers.oauth import pkce
from omniroute.providers.oauth.chatgpt import CALLBACK_PATH, PORT, ChatGPTSignIn
from omniroute.providers.oauth.errors import OAuthError
from omniroute.providers.oauth.flows import (
    DONE,
    FAILED,
    FLOW_LIFETIME,
    MAX_FLOWS,
    PENDING,
    CallbackListener,
    LoginFlow,
    Redirect,
    new_flow_id,
    read_redirect,
)
from omniroute.providers.oauth.http import OAuthHttp
from omniroute.providers.oauth.refused import refusal
from omniroute.store import Store
from omniroute.store import sign_ins as grants

log = logging.getLogger("omniroute.oauth")

SUPPORTED = ("chatgpt",)


def ssh_hint(port: int) -> str:
    return (
        f"signing in from another machine? forward the port first: "
        f"ssh -L {port}:127.0.0.1:{port} <this server>"
    )


class SignIns:
    def __init__(
        self,
        store: Store,
        http: OAuthHttp,
        *,
        on_signed_in: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self.methods = {"chatgpt": ChatGPTSignIn(http)}
        self._flows: dict[str, LoginFlow] = {}
        self._listener = CallbackListener(self._callback)
        self._on_signed_in = on_signed_in

    def method(self, provider: str) -> ChatGPTSignIn:
        """The sign-in called ``provider``; a refused one says why."""
        found = self.methods.get(provider.strip().lower())
        if found is not None:
            return found
        why = refusal(provider)
        if why is not None:
            raise OAuthError(why)
        raise NotFound(
            f"there is no sign-in called {provider!r}; available: {', '.join(SUPPORTED)}"
        )

    async def start(
        self,
        provider: str,
        *,
        name: str | None = None,
        proxy: str | None = None,
        listen: bool = True,
        port: int = PORT,
    ) -> LoginFlow:
        """A new sign-in: its address for the browser. With ``listen`` the
        loopback redirect is answered here; without, the user pastes it."""
        method = self.method(provider)
        host_id = await self._store.write(grants.host_id)
        client_id = await self._store.read(lambda c: grants.registered_client(c, method.kind))
        discovery = await method.discover(proxy)
        if listen:
            port = await self._listener.start(port)
        redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
        state, nonce, verifier = pkce.new_state(), pkce.new_state(), pkce.new_verifier()
        url = method.authorize_url(
            discovery,
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            challenge=pkce.challenge(verifier),
            host_id=host_id,
        )
        flow = LoginFlow(
            id=new_flow_id(),
            provider=method.kind,
            url=url,
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            verifier=verifier,
            client_id=client_id,
            name=name,
            proxy=proxy,
            expires_at=time.time() + FLOW_LIFETIME,
        )
        self._forget_old()
        self._flows[flow.id] = flow
        return flow

    def flow(self, flow_id: str) -> LoginFlow:
        found = self._flows.get(flow_id)
        if found is None:
            raise NotFound(f"no sign-in {flow_id!r} is in progress")
        found.public()  # marks it expired when its time is up
        return found

    async def complete(
        self, flow_id: str, *, url: str | None = None, code: str | None = None
    ) -> LoginFlow:
        """Finish a sign-in with the pasted redirect address (or its code)."""
        flow = self.flow(flow_id)
        if flow.status != PENDING:
            if flow.status == DONE:
                return flow
            raise OAuthError(flow.error or "this sign-in is over; start another")
        if url:
            redirect = self._read(flow, url)
        elif code and code.strip():
            if flow.client_id is None:
                raise OAuthError(
                    "a first sign-in needs the whole address the browser ended on "
                    "(it carries the client id ChatGPT issued), not the code alone"
                )
            redirect = Redirect(code.strip(), None)
        else:
            raise OAuthError("give the address the browser ended on (url) or its code")
        await self._finish(flow, redirect)
        return flow

    def _read(self, flow: LoginFlow, pasted: str) -> Redirect:
        try:
            return read_redirect(pasted, flow.state)
        except OAuthError as exc:
            if "another sign-in" not in exc.message:  # a stray address ends nothing
                self._fail(flow, exc.message)
            raise

    async def _finish(self, flow: LoginFlow, redirect: Redirect) -> None:
        method = self.method(flow.provider)
        try:
            client_id = flow.client_id or redirect.client_id
            if flow.client_id and redirect.client_id and redirect.client_id != flow.client_id:
                raise OAuthError("ChatGPT answered for another registration of this app")
            if not client_id or client_id == "dynamic_agent_client":
                raise OAuthError("ChatGPT did not issue a client id for this app")
            identity = await method.exchange(
                client_id=client_id,
                code=redirect.code,
                verifier=flow.verifier,
                redirect_uri=flow.redirect_uri,
                nonce=flow.nonce,
                proxy=flow.proxy,
            )
            signed = await self._store.write_sealed(
                lambda conn, sealer: grants.save_sign_in(
                    conn,
                    sealer,
                    provider=method.provider,
                    kind=method.kind,
                    subject=identity.subject,
                    client_id=client_id,
                    email=identity.email,
                    tokens=identity.tokens,
                    label=flow.name,
                )
            )
        except OAuthError as exc:
            self._fail(flow, exc.message)
            raise
        except Exception:
            self._fail(flow, "the sign-in could not be completed; see the server log")
            raise
        flow.status, flow.account_id, flow.created = DONE, signed.account_id, signed.created
        flow.email = identity.email
        if not identity.plan:
            flow.warning = (
                "ChatGPT did not allow this app to use your plan; requests through this "
                "account will be refused until you sign in again and allow it"
            )
        flow.finished.set()
        log.info(
            "signed in to %s: account %d (%s)",
            method.title,
            signed.account_id,
            "new" if signed.created else "signed in again",
        )
        if self._on_signed_in is not None:
            await self._on_signed_in(signed.account_id)
        await self._stop_listening_when_idle()

    def _fail(self, flow: LoginFlow, message: str) -> None:
        flow.status, flow.error = FAILED, message
        flow.finished.set()

    async def _callback(self, target: str) -> tuple[int, str]:
        """The browser's redirect to the loopback listener."""
        path, _, query = target.partition("?")
        if path != CALLBACK_PATH:
            return 404, "Nothing here."
        pending = [f for f in self._flows.values() if f.status == PENDING]
        for flow in pending:
            try:
                redirect = read_redirect(query, flow.state)
            except OAuthError as exc:
                if "another sign-in" in exc.message or "no state" in exc.message:
                    continue
                self._fail(flow, exc.message)
                return 400, f"The sign-in did not complete: {exc.message}."
            try:
                await self._finish(flow, redirect)
            except Exception as exc:  # shown to the person in the browser
                message = getattr(exc, "message", None) or "see the gateway's log"
                return 400, f"The sign-in did not complete: {message}."
            who = f" as {flow.email}" if flow.email else ""
            extra = f" Note: {flow.warning}." if flow.warning else ""
            return 200, f"Signed in to ChatGPT{who}. You can close this tab.{extra}"
        return 400, "This sign-in is unknown or over; start it again."

    def _forget_old(self) -> None:
        now = time.time()
        for flow_id, flow in list(self._flows.items()):
            if flow.expires_at + FLOW_LIFETIME < now:
                del self._flows[flow_id]
        while len(self._flows) >= MAX_FLOWS:
            del self._flows[next(iter(self._flows))]

    async def _stop_listening_when_idle(self) -> None:
        if not any(f.status == PENDING for f in self._flows.values()):
            await self._listener.stop()

    async def sign_out(self, account_id: int, proxy: str | None = None) -> bool:
        """Revoke the account's refresh token at the issuer, forget its tokens
        and turn the account off (signing in again turns it back on). False
        when the issuer did not confirm the revocation."""
        grant = await self._store.read_sealed(
            lambda conn, sealer: grants.read_grant(conn, sealer, account_id)
        )
        if grant is None:
            raise NotFound(f"account {account_id} is not a signed-in account")
        revoked = await self.method(grant.provider).revoke(grant, proxy)
        await self._store.write(lambda conn: grants.forget_tokens(conn, account_id))
        await self._store.set_account_enabled(account_id, False)
        log.info("signed out of account %d", account_id)
        return revoked

    async def wait(self, flow: LoginFlow, timeout: float) -> LoginFlow:
        """Until the flow finished or ``timeout`` seconds passed."""
        try:
            await asyncio.wait_for(flow.finished.wait(), timeout)
        except TimeoutError:
            pass
        return flow

    async def close(self) -> None:
        """Stop listening; sign-ins still waiting end (the gateway stops)."""
        for flow in self._flows.values():
            if flow.status == PENDING:
                self._fail(flow, "the gateway stopped before the sign-in completed")
        await self._listener.stop()
