"""Who is signed in: Flask-Login's user loader."""

from .extensions import db, login_manager
from .models import User

login_manager.login_view = "recruiter.login"
login_manager.login_message = "Please sign in to see this page."


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in staff user, if still active."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None
