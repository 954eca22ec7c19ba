"""Research, not used by the product: one weight per lexicon term, learnt from the delivery.

The product counts an appeal's lexicon matches per slot (`transforms.features`, lex_*), so every
term of a category counts alike, and a market's words are not the lexicon's (docs/model.md, "How
much of the text model's cost is variance": the words are the largest single part of the text
model's cost). Term-per-slot columns lose (too many coefficients for ~6,400 served ads). This
tries the smallest structure: each term t of category k gets one weight w_t = 1 + d_t shared by
every slot through the category's per-slot coefficient b_{k,p}:

    logit(CTR of served ad i) = o_g + sum_{k,p} b_{k,p} sum_{t in k} (1 + d_t) x_{i,t,p} + noise

fitted by alternating weighted least squares on the training groups' served ads (empirical
log-odds weighted by 1 / (binomial variance + 0.1^2), ad-group levels absorbed by centring within
each group; ridge 1 on b, Normal(0, prior_sd) on d, d clipped to [-1, 1]). Only a weight relative
to its category's other terms matters (b times w is what is identified, and the linear base refits
b on the weighted counts): the prior at 1 breaks that tie only weakly. The evaluation is then
run with lex_* counting each match with its term's weight, in training and scoring alike (the
evaluation's own code, `models.evaluate.run_evaluation`, with the featurisation patched).

    python -m research.lexicon_term_weights --world base30 --seed 101          # ~3 min, one core
    python -m models.evaluate --world base30 --seeds 101 --max_truth_groups 200 # the same without

To ship it, the weights would be learnt in `ctr_model`, travel in the bundle and reach every
featurisation that scores (Beam DoFns, score_pool, insights, the drift report), with the training
set's lex_* recomputed; none of that is built.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd

COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


def term_matches(text: str) -> dict[str, list[str]]:
    """Each lexicon category's matches in a text, as transforms.features counts them."""
    import transforms.features as F
    from transforms.text import normalize

    low = normalize(text).casefold()
    return {k: F._LEXICON_RE[k].findall(low) for k in F.LEXICONS}


def learn_term_weights(ads: dict[str, dict], examples: pd.DataFrame, prior_sd: float = 0.5,
                       between_ad_sd: float = 0.1, rounds: int = 4) -> dict[tuple[str, str], float]:
    """{(category, term): weight} from served ads' rows (ad_id, ad_group_id, impressions, clicks)."""
    import transforms.features as F

    cats = list(F.LEXICONS)
    rows = examples[examples.clicks > 0]
    matches = {a: [term_matches(ads[a].get(c) or "") for c in COLUMNS] for a in rows.ad_id.unique()}
    terms = sorted({(k, m) for per_slot in matches.values() for ms in per_slot for k, found in ms.items()
                    for m in found})
    index = {t: i for i, t in enumerate(terms)}
    n, n_terms = len(rows), len(terms)
    X = np.zeros((n, 5, n_terms))
    for i, ad_id in enumerate(rows.ad_id):
        for p, ms in enumerate(matches[ad_id]):
            for k, found in ms.items():
                for m in found:
                    X[i, p, index[(k, m)]] += 1
    category = np.array([cats.index(k) for k, _ in terms])
    imp, clk = rows.impressions.to_numpy(float), rows.clicks.to_numpy(float)
    p_hat = clk / imp
    y = np.log(p_hat / (1 - p_hat))
    w = 1.0 / (1.0 / (imp * p_hat * (1 - p_hat)) + between_ad_sd ** 2)
    g = pd.factorize(rows.ad_group_id)[0]
    ws = np.bincount(g, weights=w)

    def centre(M):
        M = M.reshape(n, -1)
        s = np.zeros((g.max() + 1, M.shape[1]))
        np.add.at(s, g, M * w[:, None])
        return M - (s / ws[:, None])[g]

    yc = centre(y[:, None])[:, 0]
    d = np.zeros(n_terms)
    C0 = None
    for _ in range(rounds):
        C = np.zeros((n, len(cats), 5))
        for t in range(n_terms):
            C[:, category[t], :] += (1 + d[t]) * X[:, :, t]
        Cc = centre(C)
        C0 = Cc if C0 is None else C0  # the plain counts: y ~ C0 b + Z d
        b = np.linalg.solve(Cc.T @ (Cc * w[:, None]) + np.eye(Cc.shape[1]), Cc.T @ (w * yc))
        Z = centre(np.einsum("npt,tp->nt", X, b.reshape(len(cats), 5)[category]))
        r0 = yc - C0 @ b
        d = np.clip(np.linalg.solve(Z.T @ (Z * w[:, None]) + np.eye(n_terms) / prior_sd ** 2, Z.T @ (w * r0)), -1, 1)
    return {t: 1.0 + float(x) for t, x in zip(terms, d)}


def weighted_lexicon(weights: dict[tuple[str, str], float]):
    """Patch transforms.features so lex_* count each match with its term's weight (training and
    scoring go through the same function). Returns a function that undoes it."""
    import transforms.features as F

    original = F.asset_feature_row
    columns = [(k, F.ASSET_FEATURE_NAMES.index(f"lex_{k}")) for k in F.LEXICONS]

    def row(text, keyword_norm, keyword_words, pieces, raw_width=None):
        out = list(original(text, keyword_norm, keyword_words, pieces, raw_width=raw_width))
        low = text.casefold()
        for k, col in columns:
            out[col] = float(sum(weights.get((k, m), 1.0) for m in F._LEXICON_RE[k].findall(low)))
        return out

    F.asset_feature_row = row
    return lambda: setattr(F, "asset_feature_row", original)


def main(argv=None) -> int:
    from admedia.world import World
    from models.evaluate import prepare, run_evaluation, world_config

    ap = argparse.ArgumentParser(prog="python -m research.lexicon_term_weights", description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", default="base30")
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--prior_sd", type=float, default=0.5, help="prior sd of a term's departure from its category")
    ap.add_argument("--between_ad_sd", type=float, default=0.1,
                    help="scatter of a served ad's log-odds beyond its clicks' noise (the linear base measures it)")
    ap.add_argument("--max_truth_groups", type=int, default=200)
    args = ap.parse_args(argv)
    world = World.generate(world_config(args.world, args.seed))
    with tempfile.TemporaryDirectory() as wd:
        prep = prepare(world, wd)
    ex = prep.examples
    train = ex[~ex.ad_group_id.isin(prep.holdout) & (ex.split == "train")]  # what the model learns from
    weights = learn_term_weights(prep.ads, train, args.prior_sd, args.between_ad_sd)
    ranked = sorted(weights.items(), key=lambda kv: kv[1])
    print(f"{len(weights)} terms; lowest " + ", ".join(f"{k}:{m} {v:.2f}" for (k, m), v in ranked[:5])
          + "; highest " + ", ".join(f"{k}:{m} {v:.2f}" for (k, m), v in ranked[-5:]), flush=True)
    undo = weighted_lexicon(weights)
    try:
        with tempfile.TemporaryDirectory() as wd:
            report = run_evaluation(world, wd, max_truth_groups=args.max_truth_groups, log=lambda m: print("  " + m))
    finally:
        undo()
    shares = {k: v["top1_share_of_oracle_lift"] for k, v in report["ground_truth_holdout"].items()}
    print(f"{args.world} {args.seed}: model {shares['lightgbm']:.2%}, text only {shares['lightgbm_text_only']:.2%} "
          f"(known rules {shares['known_rules']:.2%}, + effects {shares['known_rules_effects']:.2%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
