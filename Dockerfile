# One image for Dataflow: the Flex Template launcher runs the pipeline's main file, and the same
# image is the SDK worker container (--sdk_container_image, --sdk_location=container), so the
# launcher and every worker have identical packages and native libraries (LightGBM, SentencePiece).
FROM python:3.11-slim

# Beam's worker boot entrypoint; the version must match apache-beam in requirements.txt.
COPY --from=apache/beam_python3.11_sdk:2.77.0 /opt/apache/beam /opt/apache/beam
# The Flex Template launcher binary.
COPY --from=gcr.io/dataflow-templates-base/python311-template-launcher-base:latest /opt/google/dataflow/python_template_launcher /opt/google/dataflow/python_template_launcher

# LightGBM needs OpenMP at run time.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*

ARG WORKDIR=/template
WORKDIR ${WORKDIR}

COPY requirements.txt .
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir -r requirements.txt

COPY pyproject.toml setup.py README.md ./
COPY transforms transforms
COPY models models
COPY pipelines pipelines
COPY warehouse warehouse
# Installed as a package so workers import it exactly as the launcher does (no staging needed).
RUN pip install --no-cache-dir --no-deps . && pip check

ENV FLEX_TEMPLATE_PYTHON_PY_FILE="${WORKDIR}/pipelines/score.py"

# Workers start through Beam's boot; the launcher is started by Dataflow explicitly.
ENTRYPOINT ["/opt/apache/beam/boot"]
