"""xgboost boosters' trees evaluated in numpy, to score one row without xgboost's fixed cost per call.

For a single row, each `inplace_predict` call costs far more than walking the trees. `Forest` walks every
tree of several boosters at once, one level per step, with a few vectorized gathers. It follows xgboost's
rules: a split sends a float32 value left when `value < condition`, a missing value (NaN) takes the
node's default direction, and leaves are summed in float32, tree after tree, onto the base margin, so the
margins given a base margin are xgboost's to the bit. numpy's logit of a base score and its sigmoid may
differ from xgboost's float32 ones in the last bit (probabilities within 1e-7).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

_ONE = np.float32(1)
# margin → prediction, and the base score (as saved) → margin, of the objectives supported
OBJECTIVES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "binary:logistic": (
        lambda m: 1 / (1 + np.exp(-m.astype(np.float64))),
        lambda p: -np.log(_ONE / p - _ONE),
    ),
    "reg:squarederror": (lambda m: m.astype(np.float64), lambda s: s),
}
# a missing value becomes -inf where the default direction is left, +inf where it is right
_MISSING = np.array([[-np.inf], [np.inf]], dtype=np.float32)


@dataclass(frozen=True)
class _Booster:
    trees: slice  # its trees' positions in the forest
    targets: int
    base_margin: np.ndarray  # float32, one per target
    transform: Callable[[np.ndarray], np.ndarray]


class Forest:
    """The trees of several boosters reading one row; `boosters` pairs each booster with the positions of
    its features in that row, which has `width` values.

    Supports gbtree boosters with numeric splits and one output per tree, under the OBJECTIVES above.
    """

    def __init__(self, boosters: Sequence[tuple[xgb.Booster, Sequence[int]]], width: int) -> None:
        trees, self._boosters = [], []
        for booster, positions in boosters:
            learner = json.loads(booster.save_raw("json"))["learner"]
            kind, objective = learner["gradient_booster"]["name"], learner["objective"]["name"]
            if kind != "gbtree" or objective not in OBJECTIVES:
                raise ValueError(f"a {kind} booster with objective {objective}: only gbtree boosters with "
                                 f"{' or '.join(OBJECTIVES)} are supported")  # fmt: skip
            model, params = learner["gradient_booster"]["model"], learner["learner_model_param"]
            targets = int(params["num_target"])
            if model["tree_info"] != [i % targets for i in range(len(model["tree_info"]))]:
                raise ValueError("only boosters with one tree per target and round are supported")
            transform, to_margin = OBJECTIVES[objective]
            base_score = np.broadcast_to(np.array(json.loads(params["base_score"]), np.float32), targets)
            position = slice(len(trees), len(trees) + len(model["trees"]))
            self._boosters.append(_Booster(position, targets, to_margin(base_score), transform))
            trees += [_tree_arrays(tree, np.asarray(positions), width) for tree in model["trees"]]
        sizes = np.array([len(tree[0]) for tree in trees])
        self._roots = np.cumsum(sizes) - sizes
        self._column, self._threshold, left, self._value = (
            np.concatenate([tree[i] for tree in trees]) for i in range(4)
        )
        own = np.arange(len(left))  # a leaf is its own left child, with a NaN threshold: a walk stays there
        self._left = np.where(left >= 0, left + np.repeat(self._roots, sizes), own)
        self._depth = max(tree[4] for tree in trees)

    def predict(self, row: np.ndarray, base_margins: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """Every booster's predictions (one per target) for `row` (float32, NaN = missing), as its
        `inplace_predict` gives them; base_margins[i], when given, replaces booster i's base score."""
        values = np.where(np.isnan(row), _MISSING, row).ravel()
        node = self._roots
        for _ in range(self._depth):
            node = self._left[node] + (values[self._column[node]] >= self._threshold[node])
        leaves = self._value[node]
        out = []
        for booster, margin in zip(self._boosters, base_margins, strict=True):
            start = booster.base_margin if margin is None else np.asarray(margin, np.float32)
            sums = np.vstack((start, leaves[booster.trees].reshape(-1, booster.targets)))
            out.append(booster.transform(np.cumsum(sums, axis=0)[-1]))
        return out


def _tree_arrays(tree: dict, positions: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """One tree of xgboost's JSON model, renumbered so that a node's right child follows its left one:
    per node the column of `values` it reads, its threshold, its left child (-1 for a leaf) and its leaf
    value; and the tree's depth."""
    if int(tree["tree_param"]["size_leaf_vector"]) > 1 or any(tree["split_type"]):
        raise ValueError("trees with vector leaves or categorical splits are not supported")
    n = len(tree["left_children"])
    column, left = np.zeros(n, np.int64), np.full(n, -1, np.int64)
    threshold, value = np.full(n, np.nan, np.float32), np.zeros(n, np.float32)
    order, depth, queue = {0: 0}, {0: 0}, [0]  # xgboost's node id → ours, and its depth
    for old in queue:  # breadth first: children get the next two numbers
        new, children = order[old], (tree["left_children"][old], tree["right_children"][old])
        condition = np.float32(tree["split_conditions"][old])
        if children[0] == -1:
            value[new] = condition
            continue
        column[new] = positions[tree["split_indices"][old]] + (0 if tree["default_left"][old] else width)
        threshold[new], left[new] = condition, len(order)
        for child in children:
            order[child], depth[child] = len(order), depth[old] + 1
            queue.append(child)
    return column, threshold, left, value, max(depth.values())
