"""What WhatsApp messages cost: the rate card, the recipient's country, estimates, the budget.

::

    rates.csv / [pricing] ──► RateCard ──► estimate (hub preview, hub routines)
    phone or BSUID ──► country_of ─┘    └─► gate (the monthly budget: runs and claims)
    status webhooks (pricing) ──► spent (hub stats, dashboard: cost per run, routine, month, read)

Meta bills per delivered template message since 2025-07-01, by the template's category and the
recipient's country; messages inside a person's 24-hour window are charged at the card's
``service`` rate (0 on the shipped card). The figures are the card's, the counts are ours.
"""
