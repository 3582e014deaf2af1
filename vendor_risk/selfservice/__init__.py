"""Partner self-service (``/p``): a standing portal for a partner's contacts.

A contact enters their email address and gets a one-time link (15 minutes, 256 bits, only
its SHA-256 stored, usable once, sent sealed through the outbox; the same answer whether or
not the address is known; rate-limited per address typed and per client address). The link
opens a server-side session scoped to exactly one partner (a contact of several chooses
which); staff list and end a partner's sessions on the partner page.

Where things are:

- ``service.py``: links, sessions, choice, sign-out, revocation (audited);
- ``web.py``: the session guard (``require_viewer``), the ``viewer`` dependency, rendering
  (``ss_page``), forms (``ss_form``), rate limits and error pages;
- ``router.py``: ``ROUTES``, every self-service handler; add yours there;
- ``sections.py``: the home page's sections, one provider each (``SECTION_PROVIDERS``);
  add a provider and its template to add a section (notices, findings…);
- ``pages.py``: sign-in, choice, sign-out and home; ``staff.py``: the partner page's
  panel of sessions and their revocation.
"""
