"""`hub invite`: the wa.me link and its QR code, decoded back by a real QR reader (zxing-cpp)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette

from hub.config import AudienceConfig
from hub.storage.store import Store
from hub.web.asgi_server import serve_in_thread
from hub.web.invite_section import invite_section
from hub.web.metrics import Metrics
from hub.web.pages import ops_routes
from tests.backend import db_url

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (a test dependency) is not installed")
Image = pytest.importorskip("PIL.Image", reason="pillow (a test dependency) is not installed")

CHROMIUM = "/usr/bin/chromium"
TOML = ('[hub]\nsink = "console"\n[sinks.console]\n\n[audience]\n'
        'business_number = "+34 600 00 00 00"\n'
        'topics = { deportes = "Deportes", "medio ambiente" = "Medio ambiente" }\n')


@pytest.fixture(autouse=True)
def _no_number_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """HUB_BUSINESS_NUMBER wins over hub.toml: a value in the runner's environment must not."""
    monkeypatch.delenv("HUB_BUSINESS_NUMBER", raising=False)


def decode(png: bytes) -> list[str]:
    """Every QR code a real reader finds in a PNG image."""
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.fixture
def write_toml(project: Path):
    def write(text: str = TOML) -> None:
        (project / "hub.toml").write_text(text, encoding="utf-8")
    return write


def test_invite_prints_the_link_and_writes_a_qr_code_that_decodes_to_it(
        hub_cli, write_toml, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_toml()
    monkeypatch.chdir(project)
    result = hub_cli("invite", "--topic", "deportes")
    assert result.exit_code == 0, result.output
    link = result.output.splitlines()[0]
    assert link == "https://wa.me/34600000000?text=ALTA%20deportes"
    png, svg = project / "invite-deportes.png", project / "invite-deportes.svg"
    assert decode(png.read_bytes()) == [link]
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml") and link in svg.read_text("utf-8")


def test_invite_with_a_label_an_output_path_or_no_topic(hub_cli, write_toml, project: Path) -> None:
    write_toml()
    result = hub_cli("invite", "--topic", "Medio Ambiente", "--output", str(project / "poster" / "qr"))
    assert result.exit_code == 0, result.output
    link = "https://wa.me/34600000000?text=ALTA%20medio%20ambiente"
    assert result.output.startswith(link + "\n")
    assert decode((project / "poster" / "qr.png").read_bytes()) == [link]
    plain = hub_cli("invite", "--output", str(project / "plain"))
    assert plain.output.startswith("https://wa.me/34600000000?text=ALTA\n")


def test_an_english_audience_is_invited_with_join(hub_cli, write_toml, project: Path) -> None:
    write_toml(TOML.replace("[audience]\n", '[audience]\nlanguage = "en"\n'))
    result = hub_cli("invite", "--output", str(project / "qr"))
    assert result.output.startswith("https://wa.me/34600000000?text=JOIN\n"), result.output


def test_a_missing_business_number_is_said_with_where_to_set_it(hub_cli, write_toml, project: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write_toml(TOML.replace('business_number = "+34 600 00 00 00"\n', ""))
    monkeypatch.delenv("HUB_BUSINESS_NUMBER", raising=False)
    result = hub_cli("invite", "--output", str(project / "qr"))
    assert result.exit_code == 1
    assert "no business number" in result.output and "[audience] business_number" in result.output
    assert "HUB_BUSINESS_NUMBER" in result.output and "Traceback" not in result.output
    assert not (project / "qr.png").exists()
    monkeypatch.setenv("HUB_BUSINESS_NUMBER", "+44 7911 123456")
    from_env = hub_cli("invite", "--output", str(project / "qr"))
    assert from_env.output.startswith("https://wa.me/447911123456?text=ALTA\n"), from_env.output


def test_an_unknown_topic_is_refused_with_the_topics_there_are(hub_cli, write_toml, project: Path) -> None:
    write_toml()
    result = hub_cli("invite", "--topic", "ajedrez", "--output", str(project / "qr"))
    assert result.exit_code == 1
    assert "no topic 'ajedrez'" in result.output and "deportes, medio ambiente" in result.output


def test_a_wrong_business_number_is_a_config_error(hub_cli, write_toml) -> None:
    write_toml(TOML.replace("+34 600 00 00 00", "600"))
    result = hub_cli("check")
    assert result.exit_code == 1 and "audience.business_number" in result.output


def test_the_dashboard_shows_the_link_and_a_qr_code_a_phone_can_scan(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    monkeypatch.setenv("HUB_DASHBOARD_TOKEN", "tok-123")
    audience = AudienceConfig(business_number="+34 600 00 00 00")
    store = Store(db_url(tmp_path / "hub.db"))
    app = Starlette(routes=ops_routes(store, Metrics(store), ZoneInfo("Europe/Madrid"), language="es",
                                      extra=lambda: invite_section(audience, "es")))
    try:
        with serve_in_thread(app) as url, sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            try:
                page = browser.new_page(viewport={"width": 390, "height": 900})
                response = page.goto(url + "/dashboard?token=tok-123")
                assert response is not None and response.status == 200
                section = page.locator("#invite")
                assert section.locator("h2").inner_text() == "Invita a suscribirse"
                link = section.locator("a.invite-link")
                assert link.inner_text() == "https://wa.me/34600000000?text=ALTA"
                assert link.get_attribute("href") == "https://wa.me/34600000000?text=ALTA"
                shot = section.locator(".invite-qr svg").screenshot()
                assert decode(shot) == ["https://wa.me/34600000000?text=ALTA"]
            finally:
                browser.close()
    finally:
        store.dispose()


def test_without_a_number_the_dashboard_says_how_to_get_the_invitation(monkeypatch) -> None:
    monkeypatch.delenv("HUB_BUSINESS_NUMBER", raising=False)
    html = invite_section(AudienceConfig())
    assert "business_number" in html and "<svg" not in html
