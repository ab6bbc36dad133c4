"""Report stage: one self-contained HTML storyboard of a cut (`scenesem report`, `cut --report`).

gather.py reads the timeline, thumbnails.py grabs frames, view.py/chart.py/heat.py decide what
the page shows, render.py fills the Jinja2 templates in templates/, write.py ties them together.
"""

from scenesem_otio.report.gather import (
    WITH_METADATA,
    WITHOUT_METADATA,
    Film,
    gather,
    read_report_timeline,
)
from scenesem_otio.report.render import render_report
from scenesem_otio.report.thumbnails import thumbnails_for
from scenesem_otio.report.write import OUTPUTS, ReportResult, check_report_path, write_report

__all__ = ["OUTPUTS", "WITHOUT_METADATA", "WITH_METADATA", "Film", "ReportResult",
           "check_report_path", "gather", "read_report_timeline", "render_report",
           "thumbnails_for", "write_report"]
