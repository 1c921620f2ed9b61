"""/api/docs: the API's reference as plain HTML, from the same schema as /openapi.json.

No script and nothing from another origin (Swagger UI would load both from a CDN):
the page is rendered on the server from `app.openapi()`, with the pages' stylesheet.
"""

from __future__ import annotations

from typing import Any

from web.pages import templates

METHODS = ("get", "post", "put", "patch", "delete")


def _type_of(schema: dict[str, Any]) -> str:
    """A schema's type as a reader says it: `Receipt`, `array of string`, `string | null`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return " | ".join(_type_of(part) for part in schema[combined])
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return kind


def _body_of(content: dict[str, Any] | None) -> str | None:
    for media in (content or {}).values():
        if "schema" in media:
            return _type_of(media["schema"])
    return None


def docs_page(schema: dict[str, Any]) -> str:
    """The API's reference as plain HTML, from the same schema as /openapi.json."""
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            operations.append(
                {
                    "id": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "token": "security" in operation,
                    "parameters": [
                        {
                            "name": parameter["name"],
                            "where": parameter.get("in", ""),
                            "type": _type_of(parameter.get("schema", {})),
                            "required": parameter.get("required", False),
                        }
                        for parameter in operation.get("parameters", [])
                    ],
                    "body": _body_of(operation.get("requestBody", {}).get("content")),
                    "responses": [
                        {
                            "status": status,
                            "description": response.get("description", ""),
                            "body": _body_of(response.get("content")),
                        }
                        for status, response in sorted(operation.get("responses", {}).items())
                    ],
                }
            )
    schemas = [
        {
            "name": name,
            "description": component.get("description", ""),
            "fields": [
                {
                    "name": field,
                    "type": _type_of(spec),
                    "required": field in component.get("required", []),
                    "description": spec.get("description", ""),
                }
                for field, spec in component.get("properties", {}).items()
            ],
        }
        for name, component in sorted(schema.get("components", {}).get("schemas", {}).items())
    ]
    return templates.get_template("api_docs.html").render(
        info=schema.get("info", {}),
        openapi=schema.get("openapi", ""),
        operations=operations,
        schemas=schemas,
    )
