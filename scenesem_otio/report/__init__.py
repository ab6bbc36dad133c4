"""Report stage: one self-contained HTML storyboard of a cut (`scenesem report`, `cut --report`).

gather.py reads the timeline, thumbnails.py grabs frames, view.py/chart.py/heat.py decide what
the page shows, render.py fills the Jinja2 templates in templates/, write.py ties them together
(`write.write_report`). Nothing is re-exported here, so that importing one room of the report
never runs the others.
"""
