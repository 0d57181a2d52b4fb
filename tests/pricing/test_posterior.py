from __future__ import annotations

import numpy as np
import pytest

from pricepilot.errors import ValidationError
from pricepilot.pricing.posterior import DemandPosterior, Outcome, beta_update


def _outcomes(n: int, seed: int = 0) -> list[Outcome]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pid = f"P{rng.integers(0, 4)}"
        price = int(rng.choice([800, 900, 1000, 1100]))
        out.append(Outcome(product_id=pid, category="cat" if pid != "P3" else "other", price=price,
                           list_price=1000, model_prob=float(rng.uniform(0.05, 0.9)),
                           purchased=bool(rng.random() < 0.3)))
    return out


def test_learn_many_gives_the_same_posterior_as_learn_one_in_order() -> None:
    data = _outcomes(500)
    one, many = DemandPosterior(), DemandPosterior()
    for o in data:
        one.learn_one(o)
    many.learn_many(data)
    assert one.counts_ == many.counts_ and one.category_counts_ == many.category_counts_
    for pid in one.products_:
        assert one.products_[pid].mean == pytest.approx(many.products_[pid].mean, abs=1e-12)
        assert one.products_[pid].prec == pytest.approx(many.products_[pid].prec, abs=1e-12)


def test_with_nothing_to_borrow_the_ladder_prior_is_beta_one_one() -> None:
    post = DemandPosterior()
    a, b = post.beta_params("A", "c", np.array([100, 200]), 200, None)
    assert a.tolist() == [1.0, 1.0] and b.tolist() == [1.0, 1.0]


def test_a_thin_product_borrows_its_prior_mean_from_its_category() -> None:
    post = DemandPosterior(prior_strength=10.0)
    for i in range(100):  # a sibling sells 80% of the time at the list price
        post.learn_one(Outcome(product_id="SIB", category="c", price=1000, list_price=1000,
                               model_prob=float("nan"), purchased=i % 5 != 0))
    a, b = post.beta_params("NEW", "c", np.array([2000]), 2000, np.array([0.1]))
    # the category's 80 / 100, shrunk towards the model's 0.1 worth 2 observations
    assert a[0] / (a[0] + b[0]) == pytest.approx((80 + 2 * 0.1) / 102, abs=1e-9)
    a2, b2 = post.beta_params("NEW", "other", np.array([2000]), 2000, np.array([0.1]))
    assert a2[0] / (a2[0] + b2[0]) == pytest.approx(0.1)  # no category data: the model


def test_the_curve_correction_learns_that_the_model_overestimates_demand() -> None:
    post = DemandPosterior()
    rng = np.random.default_rng(3)
    for _ in range(400):
        price = int(rng.choice([900, 1000, 1100]))
        post.learn_one(Outcome(product_id="A", category="c", price=price, list_price=1000,
                               model_prob=0.5, purchased=bool(rng.random() < 0.2)))
    mean, cov = post.correction("A", "c")
    p = post.corrected(np.array([0.5]), np.array([1.0]), mean)
    assert p[0] == pytest.approx(0.2, abs=0.05)
    assert cov[0, 0] < 0.05  # and is confident about it


def test_a_new_product_starts_from_its_categorys_correction() -> None:
    post = DemandPosterior()
    for i in range(300):
        post.learn_one(Outcome(product_id="OLD", category="c", price=1000, list_price=1000,
                               model_prob=0.5, purchased=i % 10 == 0))
    mean_new, cov_new = post.correction("NEW", "c")
    mean_old, _ = post.correction("OLD", "c")
    assert mean_new[0] < -1.0 and mean_new[0] == pytest.approx(post.categories_["c"].mean[0])
    assert cov_new[0, 0] > post.prior_sd**2  # wider than the prior alone: category uncertainty added
    assert mean_old[0] < -1.0


def test_vectorised_beta_update_only_counts_shown_prices() -> None:
    a, b = np.ones((2, 3)), np.ones((2, 3))
    beta_update(a, b, np.array([1, 2]), np.array([True, True]), np.array([True, False]))
    assert a.tolist() == [[1, 2, 1], [1, 1, 1]] and b.tolist() == [[1, 1, 1], [1, 1, 1]]


def test_bad_settings_and_outcomes_are_refused() -> None:
    with pytest.raises(ValidationError):
        DemandPosterior(prior_strength=0)
    with pytest.raises(ValidationError):
        DemandPosterior().learn_one(Outcome(product_id="A", category="c", price=0, list_price=1,
                                            model_prob=0.5, purchased=False))
