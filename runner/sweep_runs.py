"""A sweep's runs in the store: the objective's direction, finding a parent's children, ending
those a stopped sweep left RUNNING, setting a resumed sweep's earlier attempts aside, and the
summary recorded on the parent (runner/sweep.py)."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from runner.errors import UserError
from runner.settings import OBJECTIVES, TrackingSettings

DEFAULT_EXPERIMENT = TrackingSettings.experiment  # the commands a sweep prints name any other


def direction(objective: str) -> str:
    """'minimize' or 'maximize' for a `tracking.objective` (val_cost -> minimize)."""
    if objective not in OBJECTIVES:
        raise UserError(f"tracking.objective={objective!r} is invalid; accepted: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[objective]


def objective_of(metrics: dict[str, float], objective: str) -> float | None:
    """A run's final objective; the train metric of the same kind when there is no val split."""
    return metrics.get(objective, metrics.get(objective.replace("val_", "train_")))


def all_runs(client, experiment_ids: list[str], filter_string: str = "", page: int = 5000) -> list:
    """Every run matching filter_string, fetched page by page (a page holds `page` runs)."""
    runs, token = [], None
    while True:
        found = client.search_runs(experiment_ids, filter_string, max_results=page, page_token=token)
        runs.extend(found)
        token = found.token
        if not token:
            return runs


def children_filter(parent_run_id: str) -> str:
    """The search_runs filter for the child runs of a parent."""
    return f"tags.`mlflow.parentRunId` = '{parent_run_id}'"


def sweep_children(client, experiment_id: str, parent_run_id: str, narrower: str = "") -> list:
    """The parent's child runs that count: all but the attempts a resumed sweep ran again (tag sweep.retried);
    with `narrower`, an MLflow filter, only those it matches."""
    found = all_runs(client, [experiment_id], " and ".join(filter(None, [children_filter(parent_run_id), narrower])))
    return [run for run in found if run.data.tags.get("sweep.retried") != "true"]


def set_aside_for_resume(client, experiment_id: str, parent_run_id: str, objective: str) -> dict[str, dict]:
    """Before a sweep resumes (runner.resume): its FINISHED jobs by config_hash, {hash: {run_id, value,
    data_digest, job}}, which the resumed jobs skip unless their config or data changed (runner.jobs.earlier_attempt).
    Every other child (FAILED; KILLED; RUNNING, left by a sweep killed outright, now ended KILLED) stays under the
    parent, tagged sweep.retried: its job runs again."""
    done = {}
    for run in sweep_children(client, experiment_id, parent_run_id):
        config_hash = run.data.tags.get("config_hash")
        if run.info.status == "FINISHED" and config_hash:
            done[config_hash] = {"run_id": run.info.run_id, "value": objective_of(run.data.metrics, objective),
                                 "data_digest": run.data.tags.get("data_digest"),
                                 "job": run.data.tags.get("sweep.job_overrides")}
            continue
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, "KILLED")
        client.set_tag(run.info.run_id, "sweep.retried", "true")
    return done


def override_key(override: str) -> str:
    """'+experiment=x' -> 'experiment'; 'regularization.lam=1' -> 'regularization.lam'."""
    return override.split("=", 1)[0].lstrip("+~")


def end_orphans(client, experiment_id: str, parent_run_id: str) -> None:
    """End KILLED the children still RUNNING when a sweep stops: their workers stopped with it."""
    running = all_runs(client, [experiment_id], children_filter(parent_run_id) + " and attributes.status = 'RUNNING'")
    for run in running:
        client.set_tag(run.info.run_id, "failure_reason", "the sweep was stopped while this job ran")
        client.set_terminated(run.info.run_id, "KILLED")


@dataclass
class Summary:
    """What a sweep's child runs add up to."""

    objective: str
    statuses: dict[str, int]
    best_run_id: str | None = None
    best_run_name: str | None = None
    best_value: float | None = None
    best_params: dict[str, str] = field(default_factory=dict)
    jobs_launched: int = 0
    jobs_planned: int | None = None  # None: not known ahead (runner.sweep.planned_jobs)
    diverged: int = 0  # jobs FAILED with the tag diverged=true
    importance: list[tuple[str, float]] = field(default_factory=list)  # (swept key, epsilon squared of ranks)

    @property
    def finished(self) -> int:
        return self.statuses.get("FINISHED", 0)

    def no_best(self) -> str | None:
        """Why a sweep with jobs has no best one (None when one finished, or none ran): every job diverged, or none
        finished. An Optuna study's best value is then a failed job's worst value (1e9 for a cost), not a result."""
        jobs = sum(self.statuses.values())
        if self.best_run_id or self.finished or not jobs:
            return None
        return "every job diverged (cost NaN or inf)" if self.diverged == jobs else "no job finished"

    def metrics(self) -> dict[str, float]:
        values = {"jobs": sum(self.statuses.values()), "jobs_launched": self.jobs_launched,
                  **({"jobs_planned": self.jobs_planned} if self.jobs_planned is not None else {}),
                  **{f"jobs_{s.lower()}": self.statuses.get(s, 0) for s in ("FINISHED", "FAILED", "KILLED")}}
        if self.best_value is not None:
            values[f"best_{self.objective}"] = self.best_value
        return values

    def tags(self) -> dict[str, str]:
        if self.best_run_id is None:
            return {}
        return {"best.run_id": self.best_run_id, "best.run_name": self.best_run_name or "",
                "best.overrides": " ".join(f"{k}={v}" for k, v in self.best_params.items())}

    def text(self, sweep_id: str, parent_run_id: str, experiment: str = DEFAULT_EXPERIMENT, uri: str | None = None
             ) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "no runs"
        unlaunched = (self.jobs_planned or 0) - self.jobs_launched  # a sweep that stopped before its last job
        lines = [f"sweep {sweep_id}: {sum(self.statuses.values())} of {self.jobs_launched} jobs recorded ({counts})"
                 + (f", {unlaunched} of {self.jobs_planned} never launched" if unlaunched > 0 else "")
                 + f"; parent run {parent_run_id}"]
        if self.best_run_id:
            params = " ".join(f"{k}={v}" for k, v in self.best_params.items()) or "(no swept parameters)"
            lines.append(f"  best {self.objective} {self.best_value:.6g}: {params} (run {self.best_run_id})")
        if self.no_best():
            lines.append(f"  no best {self.objective}: {self.no_best()}")
        if self.importance:
            shares = ", ".join(f"{key} {share:.0%}" for key, share in self.importance)
            lines.append(f"  what moves {self.objective} (share of the jobs' order each swept key explains alone): "
                         + shares)
        if self.statuses:  # a report of no run is refused
            lines.append(f"  report: python -m runner.report --sweep {sweep_id}{experiment_option(experiment)}"
                         + (f" --tracking-uri {shlex.quote(uri)}" if uri and uri != default_store() else ""))
        return "\n".join(lines)


def default_store() -> str:
    """The store the reading commands open when given none (MLFLOW_TRACKING_URI, else SQLite under outputs/): a
    sweep recorded elsewhere (tracking.uri) prints its commands with its own."""
    from runner.store import resolve_tracking_uri

    return resolve_tracking_uri(None)


def resume_command(sweep_id: str, experiment: str, uri: str) -> str:
    """The command that resumes the sweep, with its store when the command would not find it by default."""
    store = f"MLFLOW_TRACKING_URI={shlex.quote(uri)} " if uri != default_store() else ""
    return f"{store}python -m runner.resume {sweep_id}{experiment_option(experiment)}"


def experiment_option(experiment: str) -> str:
    """' --experiment NAME' for the commands a sweep prints, when it ran outside the default experiment."""
    return "" if experiment == DEFAULT_EXPERIMENT else f" --experiment {shlex.quote(experiment)}"


def summarize(children: list, objective: str) -> Summary:
    """Count the children by status; the best FINISHED child by the objective and its swept parameters."""
    statuses: dict[str, int] = {}
    for run in children:
        statuses[run.info.status] = statuses.get(run.info.status, 0) + 1
    finished = sorted((run for run in children if run.info.status == "FINISHED"), key=launch_order)
    metric = ranked_metric([run.data.metrics for run in finished], objective)
    summary = Summary(metric, statuses, diverged=sum(run.data.tags.get("diverged") == "true" for run in children))
    scored = [(run.data.metrics.get(metric), run) for run in finished]  # ties: the job launched first
    scored = [(value, run) for value, run in scored if value is not None]
    if scored:
        sign = 1.0 if direction(objective) == "minimize" else -1.0
        value, best = min(scored, key=lambda pair: sign * pair[0])
        overrides = best.data.tags.get("sweep.job_overrides", "").split()
        summary.best_run_id, summary.best_run_name, summary.best_value = best.info.run_id, best.info.run_name, value
        summary.best_params = {override_key(o): o.split("=", 1)[1] for o in overrides if "=" in o}
        summary.importance = swept_importance(finished, metric)
    return summary


def launch_order(run) -> tuple[float, int]:
    """A job's place in its sweep: its number (tag sweep.job, Hydra's job.num, as Optuna numbers its trials), then
    its start. Under joblib a later job may start first, so the start alone broke ties unlike Optuna's best trial."""
    job = run.data.tags.get("sweep.job", "")
    return (int(job) if job.isdigit() else float("inf")), run.info.start_time


def ranked_metric(metrics: list[dict[str, float]], objective: str) -> str:
    """The metric runs are ranked by, as runner.report ranks them: the objective when any run logged it (a run
    without it, having no validation part, ranks after them), else the train metric of the same kind."""
    return objective if any(objective in m for m in metrics) or not metrics else objective.replace("val_", "train_")


def swept_importance(finished: list, objective: str) -> list[tuple[str, float]]:
    """For each key the jobs' overrides vary, the share of the FINISHED jobs' order by the objective that its
    values explain alone (runner.report_tables.importance, epsilon squared of ranks), largest first."""
    import pandas as pd

    from runner.report_tables import importance

    rows = [{"status": "FINISHED", objective: run.data.metrics.get(objective),
             **{override_key(o): o.split("=", 1)[1] for o in run.data.tags.get("sweep.job_overrides", "").split()
                if "=" in o}} for run in finished]
    table = pd.DataFrame(rows)
    keys = [key for key in table.columns if key not in ("status", objective) and table[key].nunique(dropna=False) > 1]
    shares = importance(table.dropna(subset=[objective]), keys, objective) if keys else None
    return [] if shares is None else list(zip(shares["key"], shares["epsilon_squared_ranks"].astype(float)))
