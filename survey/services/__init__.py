"""Plain functions holding the product's logic; the only code that commits."""
