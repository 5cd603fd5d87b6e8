"""gettext catalogs: locales/<lang>/LC_MESSAGES/messages.po for en, es, bn and fr."""
