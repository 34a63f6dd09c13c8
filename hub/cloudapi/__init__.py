"""The WhatsApp Business Cloud API as the hub speaks it: message shapes, error codes, the client.

Shared by the ``whatsapp`` sink (which sends), the dispatcher (which acts on error codes) and the
simulator (which answers like Meta does). Facts and limits come from Meta's documentation.
"""
