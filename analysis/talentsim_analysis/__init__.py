"""Read, tabulate and plot talentsim results files.

    import talentsim_analysis as ta
    ds = ta.open_results("results/baseline_2026.h5")
    ta.questions_table(ds)
    ta.plot_fan(ds, labs=["OpenAI", "Anthropic"])
"""

from .frames import (compare_questions, end_headcount, paired_end_difference, questions_table,
                     tidy)
from .io import SUPPORTED_FORMAT_VERSIONS, FormatError, file_type, open_results
from .plots import (plot_fan, plot_flows, plot_questions, plot_sobol, plot_sweep_response)
from .report import write_report

__all__ = [
    "SUPPORTED_FORMAT_VERSIONS", "FormatError", "file_type", "open_results", "tidy",
    "questions_table", "compare_questions", "end_headcount", "paired_end_difference", "plot_fan",
    "plot_flows", "plot_questions",
    "plot_sweep_response", "plot_sobol", "write_report",
]
