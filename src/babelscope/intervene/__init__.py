"""Interventions (METHODS §7): force units during generation, with controls, and measure the outputs.

    Forcing(sets, value="on_p50", factor=1.0, positions="all", steps=None)   # serializable spec
    resolve(forcing, adapter) -> ForcingPlan                                 # checked against the model
    forcing_hooks(adapter, plan, batch)                                      # context manager (one batch)
    with forcing(adapter, sets, factor=2.0, steps=(2, 12)): ...               # every generate call in the block
    run_intervention(adapter, samples, forcing, baseline_tables=[...], steer_to=None, out=DIR)
    record(adapter, samples, out, settings, forcing=plan)                    # record a forced model
"""

from babelscope.intervene.context import forcing
from babelscope.intervene.hooks import forcing_hooks
from babelscope.intervene.run import (CONDITIONS, InterventionResult, random_baseline, read_results,
                                      run_intervention, summarize_conditions)
from babelscope.intervene.spec import (POSITIONS, VALUE_KINDS, Forcing, ForcingPlan, SiteForcing,
                                       plan_from_values, resolve)

__all__ = ["CONDITIONS", "POSITIONS", "VALUE_KINDS", "Forcing", "ForcingPlan", "InterventionResult",
           "SiteForcing", "forcing", "forcing_hooks", "plan_from_values", "random_baseline", "read_results", "resolve",
           "run_intervention", "summarize_conditions"]

from babelscope.stage_module import make_stage_callable  # noqa: E402

make_stage_callable(__name__, "babelscope.api:intervene")  # babelscope.intervene(...) is babelscope.api.intervene(...)
