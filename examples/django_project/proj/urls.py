from demoapp import views
from django.urls import path

urlpatterns = [
    path("add/", views.add),
    path("widgets/", views.create_widget),
    path("tasks/<str:task_id>/", views.task_status),
]
