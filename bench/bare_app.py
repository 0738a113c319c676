"""The baseline: a bare Flask route doing no work, served exactly like the app."""

from flask import Flask, request

app = Flask(__name__)
PAGE = "<!doctype html><title>bare</title><p>{}</p>"


@app.route("/", methods=["GET", "POST"])
def bare():
    """Echo the number of form fields; no database, no templates."""
    return PAGE.format(len(request.form))
