"""A live easyflow for the widget's WebSocket and browser tests: `easyflow serve` (worker included) on a
committed database of its own, its default assistant on the LLM double, a widget allowed on one test
site; a second site whose origin is not allowed; and a cuttable TCP relay in front of the server."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.doubles.llm_server import LLMServer
from tests.doubles.serving import ThreadedServer
from tests.doubles.tcp_proxy import TcpProxy
from tests.support import EASYFLOW, create_database, drop_database, free_port, process_env, run, stop, wait_ready


def _page(request: Request) -> HTMLResponse:
    """A shop page embedding the widget: `/?key=wk_...&api=http://127.0.0.1:PORT&lang=ru`."""
    key, api, lang = request.query_params["key"], request.query_params["api"], request.query_params.get("lang", "ru")
    return HTMLResponse(
        f'<!doctype html><html lang="{lang}"><head><title>Shop</title><link rel="icon" href="data:,"></head>'
        f'<body><h1>Shop</h1><script src="{api}/widget.js" data-channel="{key}" async></script></body></html>'
    )


def site_app() -> Starlette:
    return Starlette(routes=[Route("/", _page)])


@dataclass
class WidgetServer:
    base: str  # the easyflow server, directly
    proxy: TcpProxy  # the same server through a relay the test can cut
    site: str  # a site the widget is allowed on
    foreign_site: str  # a site it is not
    public_key: str
    api_key: str
    assistant_id: str
    database_url: str

    @property
    def proxied(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    def page(self, *, through_proxy: bool = False, site: str | None = None, lang: str = "ru") -> str:
        api = self.proxied if through_proxy else self.base
        return f"{site or self.site}/?key={self.public_key}&api={api}&lang={lang}"

    def use_model(self, llm: LLMServer) -> None:
        """Point the widget's assistant at the LLM double (which streams its replies; unscripted, it echoes)."""
        response = httpx.patch(
            f"{self.base}/api/v1/assistants/{self.assistant_id}",
            json={"model": {"provider": "openai_compatible", "model_name": "qwen2.5:7b", "base_url": llm.base_url}},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def widget_server(
    embedded_server: str, llm_server_session: LLMServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    name = f"easyflow_widget_{os.getpid()}"
    url = create_database(embedded_server, name)
    folder = tmp_path_factory.mktemp("widget-server")
    port = free_port()
    env = process_env(
        url,
        str(folder / "data"),
        EASYFLOW_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EASYFLOW_WIDGET_SESSIONS_PER_IP="1000/minute",
        EASYFLOW_WIDGET_MESSAGES_PER_VISITOR="1000/minute",
    )
    assert run(env, "migrate").returncode == 0
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [EASYFLOW, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log, text=True
    )
    try:
        with (
            ThreadedServer(site_app(), "shop-site") as site,
            ThreadedServer(site_app(), "foreign-site") as foreign,
            TcpProxy(port) as proxy,
        ):
            wait_ready(f"http://127.0.0.1:{port}", server, 60)
            seeded = _seed(env, port, proxy, f"http://127.0.0.1:{site.port}", f"http://127.0.0.1:{foreign.port}")
            seeded.use_model(llm_server_session)
            yield seeded
    finally:
        stop(server)
        log.close()
        drop_database(embedded_server, name)


def _seed(env: dict[str, str], port: int, proxy: TcpProxy, site: str, foreign_site: str) -> WidgetServer:
    created = run(
        env,
        "tenant",
        "create",
        "--name",
        "Магазин",
        "--owner-email",
        f"{uuid.uuid4().hex[:8]}@example.com",
        "--owner-password",
        "widget-password",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    api_key = json.loads(created.stdout)["api_key"]
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key}"}
    assistant = httpx.get(f"{base}/api/v1/assistants", headers=headers, timeout=10).json()["items"][0]
    widget = httpx.post(
        f"{base}/api/v1/channels",
        json={"type": "widget", "name": "Shop", "allowed_origins": [site], "title": "Магазин"},
        headers=headers,
        timeout=10,
    )
    assert widget.status_code == 201, widget.text
    return WidgetServer(
        base=base,
        proxy=proxy,
        site=site,
        foreign_site=foreign_site,
        public_key=widget.json()["public_key"],
        api_key=api_key,
        assistant_id=assistant["id"],
        database_url=env["EASYFLOW_DATABASE_URL"],
    )
