"""The widget in a real browser (headless Chromium via Playwright) on a shop page of another origin:
open, send, watch the reply stream in, reload and see the history, lose the network mid-reply and recover
with nothing lost or doubled, be refused on a site that is not allowed, and work from the keyboard."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.channels.conftest import WidgetServer
from tests.doubles.llm_server import LLMServer, delay, reply, tool_call

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (Debian package `chromium`)"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` package is not installed")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect
SECONDS = 20_000  # Playwright counts milliseconds


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()  # a new visitor: empty storage
    opened = context.new_page()
    yield opened
    context.close()


def widget(page: Any) -> Any:
    return page.locator("[data-easyflow-widget]")


def open_chat(page: Any, url: str, label: str = "Открыть чат") -> None:
    page.goto(url)
    expect(widget(page)).to_have_attribute("data-state", "online", timeout=SECONDS)
    page.get_by_role("button", name=label).click()
    expect(page.get_by_role("dialog")).to_be_visible()


def say(page: Any, text: str) -> None:
    box = page.get_by_role("textbox")
    box.fill(text)
    box.press("Enter")


def test_a_visitor_sends_and_watches_the_reply_stream_in(
    page: Any, widget_server: WidgetServer, llm: LLMServer
) -> None:
    answer = "Доставка по городу стоит триста рублей, привозим за один или два дня, бесплатно от трёх тысяч."
    llm.double.script(delay(1.5, then=reply(answer, pace_seconds=0.1)))  # the model thinks before it writes
    frames: list[str] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(str(frame))))
    open_chat(page, widget_server.page())
    expect(page.get_by_role("heading", name="Магазин")).to_be_visible()
    say(page, "Сколько стоит доставка?")
    expect(page.get_by_role("status")).to_have_text("Печатает…", timeout=SECONDS)

    draft = page.locator(".msg.draft")
    expect(draft).to_be_visible(timeout=SECONDS)
    partial = draft.inner_text()
    assert partial and answer.startswith(partial)
    final = page.locator(".msg.assistant")
    expect(final).to_contain_text(answer, timeout=SECONDS)
    expect(draft).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text("")
    expect(final).to_have_count(1)
    expect(page.locator(".msg.visitor")).to_have_count(1)
    expect(page.locator(".msg.visitor")).to_contain_text("Сколько стоит доставка?")
    assert sum('"type":"draft"' in frame for frame in frames) >= 3


def test_the_history_is_there_after_a_reload(page: Any, widget_server: WidgetServer, llm: LLMServer) -> None:
    llm.double.script(reply("Да, вернуть можно в течение 14 дней."))
    open_chat(page, widget_server.page())
    say(page, "Можно вернуть товар?")
    expect(page.locator(".msg.assistant")).to_contain_text("14 дней", timeout=SECONDS)

    page.reload()
    open_chat(page, widget_server.page())
    expect(page.locator(".msg.assistant")).to_have_count(1, timeout=SECONDS)
    expect(page.locator(".msg.assistant")).to_contain_text("14 дней")
    expect(page.locator(".msg.visitor")).to_have_count(1)
    expect(page.locator(".msg.visitor")).to_contain_text("Можно вернуть товар?")


def test_losing_the_connection_mid_reply_loses_and_doubles_nothing(
    page: Any, widget_server: WidgetServer, llm: LLMServer
) -> None:
    answer = " ".join(f"слово{i}" for i in range(30)) + "."
    llm.double.script(reply(answer, pace_seconds=0.12), reply("Второй ответ после обрыва."))
    open_chat(page, widget_server.page(through_proxy=True))
    say(page, "Расскажите подробно")
    expect(page.locator(".msg.draft")).to_be_visible(timeout=SECONDS)

    widget_server.proxy.refusing = True  # the network goes down mid-reply...
    assert widget_server.proxy.cut() >= 1
    expect(widget(page)).to_have_attribute("data-state", "reconnecting", timeout=SECONDS)
    say(page, "Вы тут?")  # ...the visitor writes while offline...
    expect(page.locator(".msg.visitor.pending")).to_have_count(1)
    widget_server.proxy.refusing = False  # ...and it comes back.

    expect(widget(page)).to_have_attribute("data-state", "online", timeout=SECONDS)
    assistant = page.locator(".msg.assistant")
    expect(assistant).to_have_count(2, timeout=SECONDS)
    expect(assistant.first).to_contain_text(answer)
    expect(assistant.last).to_contain_text("Второй ответ после обрыва.")
    expect(page.locator(".msg.visitor")).to_have_count(2)
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.locator(".msg.draft")).to_have_count(0)

    shown = [re.sub(r"^\S+: ", "", t.replace("\n", " ")).strip() for t in page.locator(".msg").all_inner_texts()][1:]
    stored = server_history(page, widget_server)
    assert shown == stored  # exactly what the server holds, in its order: nothing lost, nothing twice
    assert sorted(stored) == sorted(["Расскажите подробно", answer, "Вы тут?", "Второй ответ после обрыва."])


def server_history(page: Any, server: WidgetServer) -> list[str]:
    """The visitor's conversation as the server stores it, read with the token the page keeps."""
    token = page.evaluate(f"JSON.parse(localStorage.getItem('easyflow.{server.public_key}')).token")
    response = httpx.get(
        f"{server.base}/widget/v1/{server.public_key}/messages",
        headers={"Authorization": f"Bearer {token}", "Origin": server.site},
        timeout=10,
    )
    return [m["text"] for m in response.json()["messages"]]


def test_a_page_on_a_site_that_is_not_allowed_is_refused(page: Any, widget_server: WidgetServer) -> None:
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status) if "/session" in response.url else None)
    page.goto(widget_server.page(site=widget_server.foreign_site))
    expect(widget(page)).to_have_attribute("data-state", "refused", timeout=SECONDS)
    assert statuses == [403]
    page.get_by_role("button", name="Открыть чат").click()
    expect(page.get_by_role("alert")).to_have_text("Чат недоступен на этом сайте.")
    expect(page.get_by_role("textbox")).to_be_hidden()


def test_english_keyboard_and_screen_reader_use(page: Any, widget_server: WidgetServer, llm: LLMServer) -> None:
    llm.double.script(tool_call("final_result", {"text": "Which day suits you?", "buttons": ["Today", "Tomorrow"]}))
    page.goto(widget_server.page(lang="en"))
    expect(widget(page)).to_have_attribute("data-state", "online", timeout=SECONDS)
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Магазин")).to_be_visible()
    expect(page.get_by_role("textbox", name="Type a message…")).to_be_focused()
    expect(page.get_by_role("log", name="Chat messages")).to_have_attribute("aria-live", "polite")

    page.keyboard.type("I want to book")
    page.keyboard.press("Enter")
    today = page.get_by_role("button", name="Today")
    expect(today).to_be_visible(timeout=SECONDS)
    llm.double.script(reply("Booked for today."))
    today.click()  # a quick reply sends its label
    expect(page.locator(".msg.assistant").last).to_contain_text("Booked for today.", timeout=SECONDS)
    expect(page.locator(".msg.visitor").last).to_contain_text("Today")

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()


def test_the_prechat_form_and_a_file(page: Any, widget_server: WidgetServer, llm: LLMServer, tmp_path: Any) -> None:
    headers = {"Authorization": f"Bearer {widget_server.api_key}"}
    created = httpx.post(
        f"{widget_server.base}/api/v1/channels",
        json={
            "type": "widget",
            "name": f"Prechat {uuid.uuid4().hex[:6]}",
            "allowed_origins": [widget_server.site],
            "prechat_fields": ["name", "phone"],
            "color": "#aa3366",
        },
        headers=headers,
        timeout=10,
    ).json()
    url = widget_server.page().replace(widget_server.public_key, created["public_key"])
    page.goto(url)
    expect(widget(page)).to_have_attribute("data-state", "online", timeout=SECONDS)
    launcher = page.get_by_role("button", name="Открыть чат")
    expect(launcher).to_have_css("background-color", "rgb(170, 51, 102)")  # the widget's own colour
    launcher.click()
    page.get_by_role("button", name="Начать чат").click()  # empty fields are not accepted
    expect(page.get_by_role("textbox", name="Напишите сообщение…")).to_be_hidden()
    page.get_by_label("Имя").fill("Анна")
    page.get_by_label("Телефон").fill("+7 999 123-45-67")
    page.get_by_role("button", name="Начать чат").click()

    llm.double.script(reply("Спасибо, Анна!"))
    say(page, "Здравствуйте")
    expect(page.locator(".msg.assistant")).to_contain_text("Спасибо, Анна!", timeout=SECONDS)
    picture = tmp_path / "чек.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    page.locator("input[type=file]").set_input_files(str(picture))
    expect(page.locator(".msg.visitor .file")).to_contain_text("чек.png", timeout=SECONDS)

    conversations = httpx.get(f"{widget_server.base}/api/v1/conversations", headers=headers, timeout=10).json()
    contact = next(c["contact"] for c in conversations["items"] if c["contact"]["name"] == "Анна")
    assert contact["phone"] == "+7 999 123-45-67"


def test_where_websockets_are_blocked_the_widget_falls_back_to_polling(
    page: Any, widget_server: WidgetServer, llm: LLMServer
) -> None:
    page.route_web_socket(re.compile(r"/live$"), lambda socket: socket.close())  # e.g. a proxy that drops them
    answer = "Отвечаю без WebSocket, " + " ".join(f"слово{i}" for i in range(40)) + "."
    streamed = delay(1.0, then=reply(answer, pace_seconds=0.1))
    # Twice: the served app is shared by this module's tests, and a reply job an earlier test left behind may
    # take the first from the double's queue on a loaded machine; the spare is forgotten when the next test starts.
    llm.double.script(streamed, streamed)
    page.goto(widget_server.page())
    expect(widget(page)).to_have_attribute("data-state", "polling", timeout=SECONDS)
    page.get_by_role("button", name="Открыть чат").click()
    say(page, "Работает?")
    expect(page.locator(".msg.draft")).to_be_visible(timeout=SECONDS)  # the reply streams, a second at a time
    expect(page.locator(".msg.assistant")).to_contain_text(answer, timeout=SECONDS)
    expect(page.locator(".msg.draft")).to_have_count(0)
    expect(page.locator(".msg.visitor")).to_have_count(1)
    expect(page.locator(".msg.pending")).to_have_count(0)


def test_a_reply_that_arrives_while_the_panel_is_closed_is_counted_as_unread(
    page: Any, widget_server: WidgetServer, llm: LLMServer
) -> None:
    llm.double.script(delay(1.0, then=reply("Ответ, пока чат закрыт.")))
    open_chat(page, widget_server.page())
    say(page, "Ответьте, когда сможете")
    page.keyboard.press("Escape")  # the visitor closes the panel before the reply comes
    launcher = page.locator(".launcher")
    badge = page.locator(".badge")
    expect(badge).to_have_text("1", timeout=SECONDS)
    expect(launcher).to_have_attribute("aria-label", "Открыть чат (1 новых)")

    page.reload()  # still unread after a reload...
    expect(page.locator(".badge")).to_have_text("1", timeout=SECONDS)
    page.locator(".launcher").click()  # ...until the panel is opened
    expect(page.locator(".badge")).to_be_hidden()
    page.reload()
    expect(widget(page)).to_have_attribute("data-state", "online", timeout=SECONDS)
    expect(page.locator(".badge")).to_be_hidden()


def test_staff_are_told_while_the_visitor_writes(page: Any, widget_server: WidgetServer, llm: LLMServer) -> None:
    llm.double.script(reply("Здравствуйте! Чем помочь?"))
    sent: list[str] = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(str(frame))))
    open_chat(page, widget_server.page())
    say(page, "Добрый день")
    expect(page.locator(".msg.assistant")).to_contain_text("Чем помочь?", timeout=SECONDS)
    page.get_by_role("textbox").press_sequentially("Хочу записаться на", delay=20)
    with psycopg.connect(widget_server.database_url) as conn:
        for _ in range(100):
            typing = conn.execute(
                "SELECT e.payload->>'role' FROM staff_events e JOIN messages m"
                " ON m.conversation_id = (e.payload->>'conversation_id')::uuid"
                " WHERE e.kind = 'typing' AND m.text = 'Добрый день'"
            ).fetchall()
            if typing:
                break
            page.wait_for_timeout(100)
    assert typing == [("contact",)], sent  # a whole word typed in well under the throttle: one event
    after_sending = sent[next(n for n, frame in enumerate(sent) if '"type":"send"' in frame) :]
    assert sum('"type":"typing"' in frame for frame in after_sending) == 1


def test_a_file_an_operator_sends_is_downloaded_by_the_visitor(
    page: Any, widget_server: WidgetServer, llm: LLMServer, tmp_path: Any
) -> None:
    llm.double.script(reply("Сейчас позову администратора."))
    asked = f"Пришлите прайс, пожалуйста ({uuid.uuid4().hex[:6]})"
    open_chat(page, widget_server.page())
    say(page, asked)
    expect(page.locator(".msg.assistant")).to_contain_text("администратора", timeout=SECONDS)
    with psycopg.connect(widget_server.database_url) as conn:
        found = conn.execute("SELECT conversation_id FROM messages WHERE text = %s", (asked,)).fetchone()
    assert found is not None
    headers = {"Authorization": f"Bearer {widget_server.api_key}"}
    pdf = b"%PDF-1.4\n% price list\n" + bytes(100)
    with httpx.Client(base_url=widget_server.base, headers=headers, timeout=10) as http:
        owner = http.get("/api/v1/operators").json()[0]["user_id"]
        assert http.patch(f"/api/v1/conversations/{found[0]}", json={"assignee_id": owner}).status_code == 200
        sent = http.post(f"/api/v1/conversations/{found[0]}/files", files={"file": ("прайс.pdf", pdf)})
        assert sent.status_code == 201, sent.text

    button = page.get_by_role("button", name="Файл: прайс.pdf")
    expect(button).to_be_visible(timeout=SECONDS)
    with page.expect_download(timeout=SECONDS) as downloading:
        button.click()
    saved = tmp_path / "downloaded.pdf"
    downloading.value.save_as(saved)
    assert saved.read_bytes() == pdf and downloading.value.suggested_filename == "прайс.pdf"
