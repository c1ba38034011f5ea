"""callscope's library: recordings in, analysed calls out. No Prefect, no Streamlit here."""

__version__ = "0.1.0"

#: Bumped whenever a change to the pipeline changes what lands for the same input.
PIPELINE_VERSION = "1"
