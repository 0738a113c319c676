"""`/admin/webhooks`: endpoints, their recent deliveries and "send again" (admins only)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import role_required
from ..forms import ActionForm
from ..services.errors import DomainError
from ..services.webhooks import (
    WebhookError,
    create_endpoint,
    delete_endpoint,
    endpoint_summaries,
    list_endpoints,
    recent_deliveries,
    send_again,
)
from . import bp
from .forms import NewWebhookForm


@bp.route("/webhooks", methods=["GET", "POST"])
@role_required("admin")
def webhooks():
    """Every endpoint with its delivery counts, the latest deliveries, and a form for a new one."""
    form = NewWebhookForm()
    secret = None
    if form.validate_on_submit():
        try:
            _, secret = create_endpoint(form.url.data, form.events.data, current_user)
        except DomainError as exc:
            form.url.errors = [*form.url.errors, str(exc)]
        else:
            form = NewWebhookForm(formdata=None)
    status = 400 if request.method == "POST" and secret is None else 200
    page = render_template(
        "admin/webhooks.html",
        form=form,
        secret=secret,
        endpoints=endpoint_summaries(list_endpoints()),
        deliveries=recent_deliveries(),
        action_form=ActionForm(),
    )
    # The secret is shown once: keep it out of caches and the back button.
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/webhooks/<int:endpoint_id>/delete")
@role_required("admin")
def delete_webhook(endpoint_id: int):
    """Remove an endpoint and its deliveries."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        endpoint = delete_endpoint(endpoint_id, current_user)
    except WebhookError:
        abort(404)
    flash(f"Webhook to {endpoint.url} deleted.", "success")
    return redirect(url_for("admin.webhooks"))


@bp.post("/webhooks/deliveries/<int:delivery_id>/send-again")
@role_required("admin")
def send_webhook_again(delivery_id: int):
    """Queue a delivery again now (the worker sends it on its next pass)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        send_again(delivery_id)
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        flash("Queued to be sent again on the worker's next pass.", "success")
    return redirect(url_for("admin.webhooks"))
