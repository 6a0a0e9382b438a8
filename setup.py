"""Packaging for hashzoo."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "hashzoo" / "__init__.py").read_text()).group(1)

setup(
    name="hashzoo",
    version=VERSION,
    description="Deep image hashing models for Keras 3 and TensorFlow: train, load, evaluate, search.",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # The training configs travel inside the package as `hashzoo/zoo_configs/` so that
    # `hashzoo.training.load_config("coophash_digits")` works after `pip install`. The
    # presets in `pretrained/` do not: an installed hashzoo downloads their archives (docs/zoo.md).
    packages=find_packages(include=["hashzoo", "hashzoo.*"]) + ["hashzoo.zoo_configs"],
    package_dir={"hashzoo.zoo_configs": "zoo_configs"},
    include_package_data=True,
    install_requires=[
        "tensorflow>=2.21",
        "keras>=3.13",
        "tensorflow-datasets>=4.9",
        "numpy>=2.0",
        "absl-py>=2.0",
        # Bundled digits data set: the offline default for the demo and tests.
        "scikit-learn>=1.4",
        # PNG output of retrieval grids and PR curves.
        "matplotlib>=3.8",
        # Decoding user image folders (PNG/JPEG) without a TF graph.
        "pillow>=10.0",
    ],
    extras_require={
        "faiss": ["faiss-cpu>=1.8"],
        # backend="milvus" (docs/search.md): milvus-lite 3.x dropped binary vectors, and milvus-lite 2.5
        # imports pkg_resources, which setuptools 81 removed.
        "milvus": ["pymilvus>=2.5,<3", "milvus-lite>=2.5,<3; sys_platform != 'win32'", "setuptools>=65,<81"],
        "gpu": ["tensorflow[and-cuda]>=2.21"],
        # setuptools and wheel build the wheel that tests/test_wheel.py installs.
        # The Milvus packages let `make test` compare backend="milvus" with faiss and numpy.
        "dev": ["pytest>=8.0", "pytest-xdist>=3.5", "faiss-cpu>=1.8", "setuptools>=65,<81", "wheel>=0.38",
                "pymilvus>=2.5,<3", "milvus-lite>=2.5,<3; sys_platform != 'win32'"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: Apache Software License",
    ],
)
