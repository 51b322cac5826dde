from django.apps import AppConfig


class DemoStoreConfig(AppConfig):
    name = "executions.demo"
    label = "demo_store"
    verbose_name = "Demo store"
