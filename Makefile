# Two commands from a fresh clone: `make demo` and `make test`. Each installs what is missing,
# configures and builds. BUILD=asan builds with AddressSanitizer + UBSan in build-asan/.
BUILD ?= release
JOBS  ?= $(shell nproc)

ifeq ($(BUILD),asan)
  BUILD_DIR := build-asan
  # CUDA off: nvcc takes no -fsanitize, and ASan's shadow memory clashes with the CUDA driver.
  CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=Debug -DDEEPSEEK_SANITIZE=ON -DDEEPSEEK_CUDA=OFF
else
  BUILD_DIR := build
  CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif

APT_PACKAGES := build-essential cmake ccache libdnnl-dev libopenblas-dev libgtest-dev \
  libbenchmark-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev zlib1g-dev libssl-dev \
  libp11-kit-dev softhsm2 libgloo-dev dataset-fashion-mnist python3-venv

VENV := .venv
PY   := $(VENV)/bin/python

.PHONY: all deps configure build build-tests test test-slow test-cuda demo bench bundle venv clean format

all: build

# Installs only what dpkg does not already report as installed (fast when all are there).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-tests: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target all_tests deepseek

test: build-tests
	cd $(BUILD_DIR) && OMP_NUM_THREADS=2 ctest -L unit --output-on-failure -j 1

# CUDA tests (they skip themselves without a GPU).
test-cuda: build-tests
	cd $(BUILD_DIR) && ctest -L cuda --output-on-failure

# A relocatable folder for a GPU machine: binaries, their non-CUDA libraries, RPATH $$ORIGIN.
bundle: build-tests
	rm -rf bundle
	cmake --install $(BUILD_DIR) --prefix bundle --strip
	@echo "bundle/: run e.g. bundle/bin/test_cuda --gtest_filter='Cuda*' (CUDA runtime libraries on LD_LIBRARY_PATH)"

test-slow: build-tests
	cd $(BUILD_DIR) && ctest -L slow --output-on-failure

demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target deepseek
	./$(BUILD_DIR)/bin/deepseek demo

# The bench virtualenv holds the current PyTorch from PyPI as the reference (torchvision for
# the ResNets of bench/train/resnet.py; added to a virtualenv made before it was listed).
$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q torch torchvision numpy safetensors

venv: $(PY)
	@$(PY) -c 'import torchvision' 2>/dev/null || $(VENV)/bin/pip install -q torchvision

bench: build venv
	mkdir -p bench/results
	PATH=$(abspath $(VENV))/bin:$$PATH python3 bench/run.py --build $(BUILD_DIR)

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu' '*.cuh')

clean:
	rm -rf build build-asan bundle
