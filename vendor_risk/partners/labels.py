"""Words for the partner rules' codes: unmet gate conditions, tier factors, categories.

The rules speak in stable codes with their params (``partners.rules.Unmet``); a page says
them in its own language from the catalogue entry keyed by the code (``unmet_<code>``,
``factor_<code>``), filling the params, each code among them shown by its own label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from vendor_risk.assessments.emails import format_date
from vendor_risk.i18n import has_label, translator
from vendor_risk.structs import I18nText

# Params holding a code, and the catalogue prefix of its labels.
_CODE_PARAMS: Mapping[str, str] = {
    "partner_status": "pstatus_",
    "from_status": "pstatus_",
    "to_status": "pstatus_",
    "scope_status": "sstatus_",
    "tier": "tier_",
}
# A tier factor's value, by the factor's code: the vocabulary it comes from.
_FACTOR_VALUES: Mapping[str, str] = {
    "business_criticality": "tier_",
    "sensitivity": "sensitivity_",
    "volume": "volume_",
    "processing_method": "method_",
}


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


class Labels:
    """The labels of one page language (``L`` in the staff templates)."""

    def __init__(self, lang: str, categories: Mapping[str, I18nText] | None = None) -> None:
        self.lang = lang
        self.t: Callable[..., str] = translator(lang)
        self.categories = dict(categories or {})
        self.sep = "、" if lang == "zh-CN" else ", "

    def code(self, prefix: str, value: str) -> str:
        """The label of ``value`` from the vocabulary ``prefix``; a code unknown to the
        catalogue (a firm's own) is shown as it is."""
        key = prefix + value
        return self.t(key) if has_label(key) else value

    def unmet(self, item: Any) -> str:
        """One unmet condition in the page language, from its code and params."""
        code = str(_get(item, "code") or "")
        params = dict(_get(item, "params") or {})
        key = f"unmet_{code}"
        if code == "cross_border_undeclared" and "name" in params:
            key += "_sub"
        if not has_label(key):
            return str(_get(item, "message") or code)
        values: dict[str, str] = {}
        for name, raw in params.items():
            value = str(raw)
            if name in _CODE_PARAMS:
                value = self.code(_CODE_PARAMS[name], value)
            elif name == "clauses":
                value = self.sep.join(self.code("clause_", c) for c in value.split(",") if c)
            elif name == "kinds":
                value = self.sep.join(self.code("ss_cert_kind_", c) for c in value.split(",") if c)
            elif name == "date":
                value = format_date(date.fromisoformat(value), self.lang)
            elif name == "title" and self.lang == "zh-CN" and params.get("title_zh"):
                value = str(params["title_zh"])
            elif name == "category":
                known = self.categories.get(str(params.get("category_id", "")))
                value = known.get(self.lang) if known else value
            values[name] = value
        return self.t(key, **values)

    def unmet_items(self, items: Any) -> list[dict[str, Any]]:
        """Unmet conditions as dicts whose ``message`` is in the page language (what the
        shared ``errors_summary`` shows), their ``code`` kept."""
        return [
            {
                "code": _get(u, "code"),
                "message": self.unmet(u),
                "entity_type": _get(u, "entity_type"),
                "entity_id": _get(u, "entity_id"),
            }
            for u in items or []
        ]

    def factor(self, item: Any) -> str:
        """A tier factor's name (``factor_<code>``)."""
        return self.code("factor_", str(_get(item, "code")))

    def factor_value(self, item: Any) -> str:
        """A tier factor's value by its label (yes/no factors have none to show)."""
        code = str(_get(item, "code"))
        value = str(_get(item, "value"))
        if code in _FACTOR_VALUES:
            return self.code(_FACTOR_VALUES[code], value)
        return self.t("yes") if value == "yes" else value
