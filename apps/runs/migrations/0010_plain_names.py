"""Runs stored before candidates had plain names gain them: their best model (on the run and in its result) and
their leaderboard's rows, named from the genotype as the engine now names them."""

from django.db import migrations

from apps.nas.leaderboard import plain_name


def name_best_models(apps, schema_editor):
    Run = apps.get_model("runs", "Run")
    for run in Run.objects.exclude(best=None).iterator():
        if run.best.get("genotype") and "name" not in run.best:
            run.best["name"] = plain_name(run.best["genotype"])
        if run.result:
            named = [run.result["best"]] if run.result.get("best") else []
            for row in [*named, *run.result.get("leaderboard", [])]:
                if row.get("genotype") and not row.get("name"):
                    row["name"] = plain_name(row["genotype"])
        run.save(update_fields=["best", "result"])


class Migration(migrations.Migration):
    dependencies = [("runs", "0009_run_slot_per_attempt")]

    operations = [migrations.RunPython(name_best_models, migrations.RunPython.noop)]
