"""What editors' HTML becomes on a phone: a table of inputs and the exact WhatsApp text."""

from __future__ import annotations

import pytest

from hub.text import canonical_url, first_image, html_to_plain, html_to_whatsapp, truncate

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
]


@pytest.mark.parametrize(("html", "expected"), [c[1:] for c in WHATSAPP], ids=[c[0] for c in WHATSAPP])
def test_html_to_whatsapp(html: str, expected: str) -> None:
    assert html_to_whatsapp(html) == expected


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
