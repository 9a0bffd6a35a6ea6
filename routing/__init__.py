"""Classification, policy and LiteLLM router construction.

LiteLLM fetches its model price map from the network at import unless told otherwise; these
machines (and many production networks) have no route to it, so the bundled map is used.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
