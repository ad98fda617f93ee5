"""Large scenes: repeated pipe runs share their meshes, and label layout stays readable.

No ShowBase here: the scene graph and the label layer are built on bare NodePaths with their
own camera, so these run in the test process.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import Camera, NodePath, PerspectiveLens

from runtime.render.labels import MAX_SHOWN, LabelLayer
from runtime.render.scene_graph import build_scene_graph
from runtime.sim.generate import TRAIN_ENTITIES, generated_scene


def test_repeated_pipe_runs_share_geoms_and_land_on_their_routes() -> None:
    scene = generated_scene(3 * TRAIN_ENTITIES)
    view = build_scene_graph(scene, NodePath("top"))
    first, third = view.visuals["L-00000-2"].root, view.visuals["L-00002-2"].root
    for part in ("pipe", "flanges"):
        a, b = first.find(part), third.find(part)
        assert not a.is_empty() and not b.is_empty()
        assert a.node().get_geom(0).get_vertex_data().this == \
            b.node().get_geom(0).get_vertex_data().this, f"{part}: mesh copied, not shared"
    for cid in ("L-00000-2", "L-00002-2"):
        lo, hi = view.visuals[cid].root.get_tight_bounds(view.root)
        route = np.array(view.pipe_routes[cid])
        assert np.allclose([lo.x, lo.y], route[:, :2].min(axis=0), atol=0.5)
        assert np.allclose([hi.x, hi.y], route[:, :2].max(axis=0), atol=0.5)


def _layer(n: int) -> tuple[LabelLayer, NodePath]:
    scene_root = NodePath("scene")
    lens = PerspectiveLens()
    lens.set_fov(60.0, 40.0)
    cam = scene_root.attach_new_node(Camera("cam", lens))
    cam.set_pos(0, -60, 30)
    cam.look_at(0, 0, 0)
    layer = LabelLayer(NodePath("overlay"), cam, cam, 1.5)
    rng = np.random.default_rng(1)
    for i, (x, y) in enumerate(rng.uniform(-15, 15, (n, 2))):
        layer.add(f"E-{i:04d}", f"E-{i:04d}  pump {i}", (float(x), float(y), 2.0))
    return layer, scene_root


def test_crowded_labels_never_overlap_and_are_capped() -> None:
    layer, root = _layer(1500)
    layer.update(root)
    rects = list(layer.screen_rects().values())
    assert 0 < len(rects) <= MAX_SHOWN
    boxes = np.array(rects)  # left, right, bottom, top
    left, right, bottom, top = boxes.T
    overlap = ((left[:, None] < right[None, :]) & (left[None, :] < right[:, None])
               & (bottom[:, None] < top[None, :]) & (bottom[None, :] < top[:, None]))
    np.fill_diagonal(overlap, False)
    assert not overlap.any(), "two shown cards overlap"
    assert (top <= 1.0 + 0.2).all(), "a card was left far above the screen"


def test_layout_is_redone_when_a_text_changes_or_the_camera_moves() -> None:
    layer, root = _layer(3)
    layer.update(root)
    before = layer.screen_rects()
    layer.set_status("E-0000", "Uncertain  12 s")
    layer.update(root)
    with_status = layer.screen_rects()
    grown = with_status["E-0000"]
    assert grown[3] - grown[2] > before["E-0000"][3] - before["E-0000"][2], "status line shown"
    layer._camera.set_pos(0, -40, 30)
    layer._camera.look_at(0, 0, 0)
    layer.update(root)
    moved = layer.screen_rects()
    assert moved.keys() == with_status.keys() and moved != with_status


def test_hidden_cards_take_their_new_status_when_shown_again() -> None:
    layer, scene_root = _layer(30)
    layer.update(scene_root)
    hidden = [lb for lb in layer.labels if not lb.shown]
    shown = [lb for lb in layer.labels if lb.shown]
    assert shown
    layer.set_status(shown[0].entity_id, "BAD no communication - 3 s")
    assert shown[0].text.get_text().endswith("3 s")  # a shown card changes at once
    target = hidden[0] if hidden else shown[-1]
    target.node.hide()
    target.shown = False
    layer.set_status(target.entity_id, "UNCERTAIN stale - 7 s")
    assert not target.text.get_text().endswith("7 s")  # deferred while hidden
    assert target.card_actual()  # measured when needed: the new text first
    assert target.text.get_text() == f"{target.title}\nUNCERTAIN stale - 7 s"


def test_sync_words_only_cards_on_screen_and_a_card_shown_again_gets_its_words() -> None:
    from runtime.quality import Quality, Reason
    from runtime.render.sync import RenderSync

    layer, scene_root = _layer(MAX_SHOWN + 50)  # more than are ever placed
    layer.update(scene_root)
    ids = [lb.entity_id for lb in layer.labels]
    n = len(ids)
    sync = RenderSync(ids, [None] * n, fill_band_m=[0.0] * n, stem_travel_m=[0.0] * n,
                      labels=layer)
    hidden = [i for i, lb in enumerate(layer.labels) if not lb.shown]
    shown = [i for i, lb in enumerate(layer.labels) if lb.shown]
    assert hidden and shown, "the crowd hides some cards"
    quality = np.full(n, int(Quality.BAD), dtype=np.uint8)
    reason = np.full(n, int(Reason.NO_COMMUNICATION), dtype=np.uint8)
    sync.sync(quality=quality, reason=reason, age_s=np.full(n, 12.0, dtype=np.float32))
    sync.apply()
    words = "BAD no communication - 12 s"
    assert all(layer.labels[i].status == words for i in shown)
    assert all(layer.labels[i].status == "" for i in hidden), "hidden cards cost nothing"
    assert all(sync.status_text[i] == words for i in range(n)), "status_text is current"
    card = layer.labels[hidden[0]]
    layer.on_show(card)  # what update() does before placing a hidden card again
    assert card.status == words and card.card_actual()
    assert card.text.get_text().endswith(words)
    sync.sync(age_s=np.full(n, 13.0, dtype=np.float32))
    sync.apply()  # the next second: only the shown cards are worded again
    assert layer.labels[shown[0]].status.endswith("13 s") and card.status.endswith("12 s")
    from runtime.render.sync import AGE_WORDS_PER_FRAME

    ticked = sum(layer.labels[i].status.endswith("13 s") for i in shown)
    assert ticked == min(len(shown), AGE_WORDS_PER_FRAME), "ages catch up a few a frame"
    for _ in range(len(shown) // AGE_WORDS_PER_FRAME + 1):
        sync.apply()
    assert all(layer.labels[i].status.endswith("13 s") for i in shown)
    quality[shown[-1]] = Quality.UNCERTAIN
    sync.sync(quality=quality)
    sync.apply()  # a change of quality is written at once
    assert layer.labels[shown[-1]].status.startswith("UNCERTAIN")
