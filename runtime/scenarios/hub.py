"""The run's bus side: scenario events out, trainee presence and instructor requests in.

- Events: every new event of the run is published on ``e.scenario`` (the recorder keeps them,
  so the replay's timeline shows them; the instructor station and the trainee's viewer read
  them too).
- Alarms: the alarm service's events (``e.alarms``) feed the conditions ``alarm ID STATE``.
- Service ``scenario`` (the bus vouches for the asker's role from its key):

  ============  ==========================  ==========================================
  method        who                          what
  ============  ==========================  ==========================================
  presence      operator (the trainee)      "I am here"; answers state and new messages
  status        anyone                      state, score, events since ``since``
  list          anyone                      the scene's scenarios
  start         instructor                  start ``scenario`` (now, or after this run)
  freeze, run   instructor                  plant time stops / goes on
  speed         instructor                  ``speed`` (plant seconds per wall second)
  inject        instructor                  a malfunction: ``kind``, ``target``, ``rate``
  clear         instructor                  clear the fault on ``target`` (or ``all``)
  snapshot      instructor                  take one (``label``); returns it
  snapshots     instructor                  the plant's snapshots
  restore       instructor                  back to snapshot ``id``
  backtrack     instructor                  back ``seconds`` (the newest snapshot before)
  message       instructor                  ``text`` to the trainee; ``hint``: true costs
                                            the hint penalty
  stop          instructor                  end the run now
  ============  ==========================  ==========================================
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.events import EventPublisher, EventSubscriber
from runtime.bus.security import ClientSecurity
from runtime.bus.service_client import ServiceClient
from runtime.bus.service_link import ServiceLink
from runtime.bus.services import ServiceRequest
from runtime.scenarios.plant_link import PlantError, PlantLink

if TYPE_CHECKING:
    from runtime.scenarios.runner import ScenarioRun

SERVICE = "scenario"
INSTRUCTOR_METHODS = ("start", "freeze", "run", "speed", "inject", "clear", "snapshot",
                      "snapshots", "restore", "backtrack", "message", "stop")
MAX_EVENTS_PER_REPLY = 500
TRAINEE_MESSAGE_KINDS = ("message", "hint", "paused", "resumed", "start", "end", "abort",
                         "stopped", "backtrack")


class Hub:
    def __init__(self, endpoints: BusEndpoints, security: ClientSecurity | None,
                 scene_dir: Path, plant: PlantLink) -> None:
        self.endpoints = endpoints
        self.scene_dir = scene_dir
        self.plant = plant
        self.context = zmq.Context()
        self.events = EventPublisher(endpoints, SERVICE, context=self.context,
                                     security=security)
        self.link = ServiceLink(endpoints, SERVICE, context=self.context, security=security)
        self.alarms = EventSubscriber(endpoints, ["alarms"], context=self.context,
                                      security=security)
        self.client = ServiceClient(endpoints, context=self.context, security=security)
        self.alarm_snapshot_due = True
        self._trainee: tuple[str, float] | None = None
        self.queued: str | None = None
        """A scenario id the instructor asked for: run after the current one."""
        self.state = "idle"

    # -- presence ---------------------------------------------------------------------------
    def trainee_present(self, timeout_s: float) -> bool:
        return self._trainee is not None and time.monotonic() - self._trainee[1] < timeout_s

    def trainee_name(self) -> str:
        return self._trainee[0] if self._trainee else ""

    # -- events -----------------------------------------------------------------------------
    def publish(self, events: list[dict[str, Any]]) -> None:
        self.events.publish([{**ev, "scenario_event": ev["kind"]} for ev in events])

    def alarm_snapshot(self, run: ScenarioRun) -> None:
        """The alarm service's states now (at a run's start, and after missed events): what
        ``alarm ID active`` sees; an acknowledgement counts only when seen happening."""
        reply = self.client.call("alarms", "snapshot", {}, timeout_s=1.0)
        if not reply.ok:
            return
        self.alarm_snapshot_due = False
        for state in reply.body.get("alarms", []):
            if isinstance(state, dict) and "id" in state:
                run.seen.alarms[str(state["id"])] = state

    def observe_alarms(self, run: ScenarioRun) -> None:
        """Called under the run's lock: alarm transitions into the run's observed state."""
        batches = self.alarms.poll(max_count=100)
        if any(b.gap for b in batches) or self.alarm_snapshot_due:
            self.alarm_snapshot(run)
        for batch in batches:
            for ev in batch.events:
                if ev.get("kind") != "alarm" or "id" not in ev:
                    continue
                aid = str(ev["id"])
                before = run.seen.alarms.get(aid, {})
                run.seen.alarms[aid] = ev
                if ev.get("acked") and not before.get("acked", False) and \
                        ev.get("state") in ("ack", "normal", "shelved") and ev.get("actor"):
                    run.seen.alarm_acked.add(aid)
                if before.get("state") != ev.get("state"):
                    run.engine.note(run.seen.time_s, "alarm",
                                    f"{aid} {ev.get('state')}: {ev.get('message', '')}"
                                    + (f" (by {ev['actor']})" if ev.get("actor") else ""),
                                    id=aid, state=ev.get("state"), priority=ev.get("priority"))

    # -- requests ---------------------------------------------------------------------------
    def poll(self, run: ScenarioRun | None) -> None:
        for req in self.link.poll(max_count=50):
            try:
                status, body, text = self._answer(req, run)
            except PlantError as exc:
                status, body, text = "error", {}, str(exc)
            except (KeyError, TypeError, ValueError) as exc:
                status, body, text = "error", {}, f"bad request: {exc}"
            self.link.reply(req.id, status, body, text=text)

    def _answer(self, req: ServiceRequest, run: ScenarioRun | None
                ) -> tuple[str, dict[str, Any], str]:
        m = req.method
        body = req.body or {}
        if m == "presence":
            if req.role not in ("operator", ""):
                return "refused", {}, "presence is for the trainee's operator station"
            self._trainee = (req.actor or "trainee", time.monotonic())
            since = int(body.get("since", 0))
            events = run.engine.log if run is not None else []
            msgs = [dict(e, n=i) for i, e in enumerate(events)
                    if i >= since and e["kind"] in TRAINEE_MESSAGE_KINDS]
            return "ok", {"state": self.state, "scenario": run.scenario.name if run else "",
                          "run": run.start_snapshot["id"] if run and run.start_snapshot else 0,
                          "messages": msgs[-50:], "next": len(events)}, ""
        if m == "status":
            return "ok", self.status(run, int(body.get("since", 0))), ""
        if m == "list":
            from runtime.scenarios.load import list_scenarios, load_scenario

            items = []
            for path in list_scenarios(self.scene_dir):
                s = load_scenario(path)
                items.append({"id": s.id, "name": s.name, "end_after_s": s.end_after_s})
            return "ok", {"scenarios": items,
                          "current": run.scenario.id if run else ""}, ""
        if m not in INSTRUCTOR_METHODS:
            return "error", {}, f"unknown method {m!r}"
        if req.role not in ("instructor", ""):
            return "refused", {}, f"{m} is for the instructor station (your role: {req.role})"
        return self._instruct(m, body, req.actor or "instructor", run)

    def _instruct(self, m: str, body: dict[str, Any], actor: str, run: ScenarioRun | None
                  ) -> tuple[str, dict[str, Any], str]:
        plant = self.plant
        note = (lambda kind, text, **d: run.note(kind, text, actor=actor, **d)) if run else \
            (lambda *a, **k: None)
        if m == "start":
            sid = str(body.get("scenario", ""))
            from runtime.scenarios.load import list_scenarios

            if sid not in {p.stem for p in list_scenarios(self.scene_dir)}:
                return "error", {}, f"no scenario {sid!r} in this scene"
            self.queued = sid
            if run is not None:
                if run.waiting:
                    run.stop.set()  # the queued one starts instead, at once
                else:
                    note("instructor", f"{sid} queued: it starts when this run ends")
            return "ok", {"queued": sid}, ""
        if run is None:
            return "error", {}, "no scenario is running"
        if m == "freeze":
            plant.call("freeze")
            run.instructor_frozen = True
            note("freeze", "the instructor froze the plant")
            return "ok", {}, ""
        if m == "run":
            run.instructor_frozen = False
            if not run.paused:
                plant.call("run")
            note("run", "the instructor let the plant run")
            return "ok", {}, ""
        if m == "speed":
            speed = float(body.get("speed", 1.0))
            plant.call("speed", speed=speed)
            note("speed", f"speed x{speed:g}")
            return "ok", {"speed": speed}, ""
        if m == "inject":
            req: dict[str, Any] = {"kind": str(body.get("kind")), "target": str(body.get("target"))}
            if body.get("rate") is not None:
                req["rate"] = float(body["rate"])
            reply = plant.call("fault", **req)
            note("instructor", f"malfunction: {reply['fault']}")
            return "ok", {"fault": reply["fault"]}, ""
        if m == "clear":
            reply = plant.call("clear", target=str(body.get("target", "all")))
            note("instructor", f"cleared: {', '.join(reply['cleared']) or 'nothing'}")
            return "ok", {"cleared": reply["cleared"]}, ""
        if m == "snapshot":
            snap = plant.call("snapshot", label=str(body.get("label", "instructor")))["snapshot"]
            note("snapshot", f"snapshot {snap['id']} at {snap['time_s'] - run.t0_s:.0f} s",
                 snapshot=snap)
            return "ok", {"snapshot": snap}, ""
        if m == "snapshots":
            return "ok", {"snapshots": self._run_snapshots(run)}, ""
        if m in ("restore", "backtrack"):
            if m == "restore":
                reply = plant.call("restore", id=int(body["id"]))
            else:
                reply = plant.call("backtrack", seconds=float(body.get("seconds", 60)))
            snap = reply["snapshot"]
            t_s = snap["time_s"] - run.t0_s
            run.rewound(t_s, f"{m} to snapshot {snap['id']} ({t_s:.0f} s)", reply["hash"])
            return "ok", {"snapshot": snap, "hash": reply["hash"], "t_s": t_s}, ""
        if m == "message":
            text = str(body.get("text", "")).strip()[:400]
            if not text:
                return "error", {}, "message: give text"
            if body.get("hint"):
                run.hint(text, actor)
            else:
                note("message", text)
            return "ok", {}, ""
        if m == "stop":
            run.stop.set()
            return "ok", {}, ""
        return "error", {}, f"unknown method {m!r}"

    def _run_snapshots(self, run: ScenarioRun) -> list[dict[str, Any]]:
        snaps = self.plant.call("snapshots")["snapshots"]
        first = run.start_snapshot["id"] if run.start_snapshot else 0
        return [dict(s, t_s=s["time_s"] - run.t0_s) for s in snaps if s["id"] >= first]

    def status(self, run: ScenarioRun | None, since: int = 0) -> dict[str, Any]:
        if run is None:
            return {"state": self.state, "scenario": "", "name": "", "events": [], "next": 0,
                    "queued": self.queued or ""}
        with run.lock:
            log = run.engine.log
            events = [dict(e, n=i) for i, e in enumerate(log[since:since + MAX_EVENTS_PER_REPLY],
                                                          start=since)]
            score = run.engine.scorer.result()
            t_s = run.seen.time_s
        plant = self.plant.call("status")
        return {"state": self.state, "scenario": run.scenario.id, "name": run.scenario.name,
                "run": run.start_snapshot["id"] if run.start_snapshot else 0,
                "time_s": t_s, "end_after_s": run.scenario.end_after_s, "score": score,
                "events": events, "next": since + len(events), "trainee": self.trainee_name(),
                "trainee_present": self.trainee_present(run.options.trainee_timeout_s),
                "frozen": bool(plant.get("frozen")), "speed": plant.get("speed", 1.0),
                "faults": plant.get("faults", []), "queued": self.queued or "",
                "snapshots": self._run_snapshots(run)}

    def close(self) -> None:
        self.client.close()
        self.events.close()
        self.link.close()
        self.alarms.close()
        self.context.term()
