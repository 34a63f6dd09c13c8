"""What editors' HTML becomes on a phone: a table of inputs and the exact WhatsApp text."""

from __future__ import annotations

import pytest

from hub.delivery.render import render_item
from hub.text import (
    canonical_url,
    first_image,
    html_to_plain,
    html_to_whatsapp,
    html_to_whatsapp_line,
    truncate,
)

WHATSAPP = [
    ("bold", "<p>Hoy <b>abrimos</b> la piscina</p>", "Hoy *abrimos* la piscina"),
    ("strong", "<strong>Atención</strong>: corte de agua", "*Atención*: corte de agua"),
    ("italic", "<i>El Quijote</i> en la biblioteca", "_El Quijote_ en la biblioteca"),
    ("em", "Lee <em>más</em>", "Lee _más_"),
    ("strike", "Precio <s>10 €</s> 8 €", "Precio ~10 €~ 8 €"),
    ("del", "<del>Cancelado</del> Aplazado", "~Cancelado~ Aplazado"),
    ("inline code", "Escribe <code>ALTA</code> para suscribirte", "Escribe ```ALTA``` para suscribirte"),
    ("pre", "<pre>línea 1\nlínea 2</pre>", "```línea 1\nlínea 2```"),
    ("space stays outside marks", "<b>Hola </b>mundo", "*Hola* mundo"),
    ("no space before punctuation", "<p>Abierto de <b>8:00 a 23:00 </b>, también festivos</p>",
     "Abierto de *8:00 a 23:00*, también festivos"),
    ("list", "<ul><li>Pan</li><li>Leche</li></ul>", "• Pan\n• Leche"),
    ("ordered list", "<ol><li>Uno</li><li>Dos</li></ol>", "• Uno\n• Dos"),
    ("paragraphs", "<p>Primero</p><p>Segundo</p>", "Primero\n\nSegundo"),
    ("br", "Calle Mayor, 1<br>Villanueva", "Calle Mayor, 1\nVillanueva"),
    ("heading", "<h2>Fiestas de agosto</h2><p>Programa</p>", "*Fiestas de agosto*\n\nPrograma"),
    ("script and style", "<script>alert(1)</script><style>p{}</style><p>Texto</p>", "Texto"),
    ("iframe", "<p>Vídeo:</p><iframe src='https://youtube.com/x'></iframe>", "Vídeo:"),
    ("tracking pixel", '<p>Nota</p><img src="https://px.example/p.gif" width="1" height="1">', "Nota"),
    ("share widget", '<p>Noticia</p><div class="sharedaddy"><a href="#">Compartir</a></div>', "Noticia"),
    ("entities", "Caf&eacute; &amp; t&eacute; &#8211; 5&nbsp;&euro;", "Café & té – 5 €"),
    ("whitespace", "  <p>  mucho    espacio \n\n aquí </p> ", "mucho espacio aquí"),
    ("accents and ñ", "<p>Año nuevo en Logroño: ¡ÉXITO!</p>", "Año nuevo en Logroño: ¡ÉXITO!"),
    ("emoji", "<p>🎉 <b>Fiesta</b> mañana 🎶</p>", "🎉 *Fiesta* mañana 🎶"),
    ("nested marks", "<b><i>Urgente</i></b>", "*_Urgente_*"),
    ("empty marks vanish", "<b> </b>Texto<i></i>", "Texto"),
    ("comment", "<!-- nota interna --><p>Visible</p>", "Visible"),
    ("hidden", '<p>Ver</p><p style="display: none">oculto</p>', "Ver"),
    ("plain text untouched", "Sin etiquetas, solo texto", "Sin etiquetas, solo texto"),
    ("link keeps its text", '<a href="https://x.example/">Más información</a>', "Más información"),
    ("table cells", "<table><tr><td>Lunes</td><td>9:00</td></tr></table>", "Lunes 9:00"),
    ("literal star escaped", "<p>Oferta *solo hoy* 2*3</p>", "Oferta \u2217solo hoy\u2217 2\u22173"),
    ("literal star inside bold", "<b>5 * 3</b> = 15", "*5 \u2217 3* = 15"),
    ("literal underscore inside italic", "<em>mi_usuario</em>", "_mi\uff3fusuario_"),
    ("links keep their marks", "Ver https://x.example/a_b?q=*", "Ver https://x.example/a_b?q=*"),
]


@pytest.mark.parametrize(("html", "expected"), [c[1:] for c in WHATSAPP], ids=[c[0] for c in WHATSAPP])
def test_html_to_whatsapp(html: str, expected: str) -> None:
    assert html_to_whatsapp(html) == expected


SUMMARIES = [
    ("<p>Hoy <strong>gratis</strong> y <em>mañana</em> también</p>", "Hoy *gratis* y _mañana_ también"),
    ("<p>Abierto de <b>8:00 a 23:00 </b>, también</p><p>festivos</p>",
     "Abierto de *8:00 a 23:00*, también festivos"),
    ("<i>nota_1</i> *sic*", "_nota\uff3f1_ \u2217sic\u2217"),
    ("sin etiquetas pero con * suelto", "sin etiquetas pero con \u2217 suelto"),
]


@pytest.mark.parametrize(("html", "expected"), SUMMARIES)
def test_summary_keeps_bold_and_italic_and_escapes_literal_marks(html: str, expected: str) -> None:
    assert html_to_whatsapp_line(html) == expected


def test_the_message_a_person_reads_carries_the_summarys_bold_and_italic() -> None:
    summary = html_to_whatsapp_line("<p>Piscinas <strong>gratis</strong> el <em>domingo</em></p>")
    message = render_item({"title": "Piscinas", "summary": summary, "url": "https://x.example/p"})
    assert "Piscinas *gratis* el _domingo_" in message


PLAIN = [
    ("<p>Abierto de <b>8:00 a 23:00</b>, también festivos</p>", "Abierto de 8:00 a 23:00, también festivos"),
    ("<p>Uno</p><p>Dos</p>", "Uno Dos"),
    ("<ul><li>a</li><li>b</li></ul>", "a b"),
    ("Sólo &amp; texto 😀", "Sólo & texto 😀"),
    ("<b>Título</b>\n   largo", "Título largo"),
]


@pytest.mark.parametrize(("html", "expected"), PLAIN)
def test_html_to_plain_is_one_clean_line(html: str, expected: str) -> None:
    assert html_to_plain(html) == expected


def test_truncate_at_a_word_boundary() -> None:
    text = "Las fiestas patronales empiezan el viernes con el pregón en la plaza"
    cut = truncate(text, 30)
    assert cut == "Las fiestas patronales…" and len(cut) <= 30
    assert truncate("corto", 30) == "corto"
    assert len(truncate("a" * 5000, 1024)) == 1024
    assert truncate("¡Hola, mundo! 🎉🎉🎉", 15).endswith("…")


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.ORG/Noticia?utm_source=x&utm_medium=y#comentarios", "https://example.org/Noticia"),
    ("https://example.org/a?id=3&fbclid=abc&gclid=def", "https://example.org/a?id=3"),
    ("https://example.org:443/a?mc_cid=1&mc_eid=2&xtor=RSS-3", "https://example.org/a"),
    ("http://example.org:8080/a", "http://example.org:8080/a"),
    ("https://example.org", "https://example.org/"),
])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_first_image_skips_pixels_and_resolves_relative_paths() -> None:
    html = ('<img src="https://stats.wordpress.com/b.gif?x=1">'
            '<img src="/fotos/feria.jpg" width="600">')
    assert first_image(html, "https://villanueva.example.org/noticias/1") == \
        "https://villanueva.example.org/fotos/feria.jpg"
    assert first_image("<p>sin imagen</p>") is None
