# BUILD-file prelude (pants.toml: build_file_prelude_globs): the macros that keep every
# BUILD file in build_files/ and tests/images/ a few lines long.
#
# The parent of each pod is declared once, in its Containerfile (`ARG BASE_IMAGE=...`),
# and Pants infers that edge. BUILD macros cannot read files, so the image tests need the
# lineage below to run every ancestor's tests on a child. The table is written from the
# Containerfiles by `./pants run src/python/pods:pods -- graph --write-prelude`, never by
# hand; tests/unit/pods/test_graph.py fails if it ever differs.
# (Pants requires prelude values to be hashable, hence pairs rather than a dict.)
POD_PARENTS = (
    ("rootfs", None),
    ("base", "rootfs"),
    ("devops", "base"),
    ("githubrunner", "base"),
    ("nvidia", "base"),
    ("nvidia-python", "nvidia"),
    ("playwright", "nvidia"),
    ("jupyter", "nvidia-python"),
)


def _pod_descendants(name):
    out = [name]
    for child, parent in POD_PARENTS:
        if parent == name:
            out.extend(_pod_descendants(child))
    return out


def pod(name, description, dependencies=(), **kwargs):
    """One pod image: build_files/<name>/Containerfile, tagged and labelled alike."""
    docker_image(
        name=name,
        source="Containerfile",
        # The content hash comes first: Pants rewrites a child's `ARG BASE_IMAGE` to its
        # parent's first tag, so children build FROM an immutable, content-addressed tag.
        image_tags=["{pants.hash}", "{build_args.POD_VERSION}", "latest", "stable"],
        image_labels={
            "org.opencontainers.image.title": "bazzite-ai-pod-" + name,
            "org.opencontainers.image.description": description,
        },
        output_path="pods/" + name + ".docker-info.json",
        # pod.yaml (and pixi.toml) too: the engine refuses a build whose lock is stale
        # against them, as Pants does a stale Python lockfile.
        dependencies=[":lock", ":declaration", "build_files:exclusions", *dependencies],
        **kwargs,
    )
    file(name="lock", source="pod.lock.json")
    # What the pod declares: pod.yaml, and pixi.toml where it has one. (One glob with
    # exclusions, which always matches: a per-file glob warns on pods without pixi files.)
    files(name="declaration", sources=["*", "!BUILD", "!Containerfile", "!*.json", "!*.lock", "!*.sh", "!*.py"])
    # What `pods lock --check` compares a lock against (tests/unit/pods/test_repo_locks.py).
    # (One glob that always matches: a per-file glob warns on pods without pixi files.)
    files(name="lock-inputs", sources=["*", "!BUILD", "!*.sh", "!*.py"])


def pod_image_tests(name, **kwargs):
    """The tests in tests/images/<name>/, run against <name> and every descendant.

    A child pod is tested as everything it inherits (docker-stacks does the same), so an
    image test target exists for each (tests-of, image-under-test) pair.
    """
    for image in _pod_descendants(name):
        python_tests(
            name=image,
            runtime_package_dependencies=["build_files/" + image + ":" + image],
            extra_env_vars=["POD_UNDER_TEST=" + image],
            dependencies=["tests/images:harness"],
            **kwargs,
        )
