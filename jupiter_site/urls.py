from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# A storage failure outside a view (the session saved after a login) still gets a clear page.
handler500 = "plugins_app.web.storage_errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("plugins_app.web.urls")),
]
