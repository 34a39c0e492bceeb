"""bftools.release: building the project's image and publishing it and the chart's images to a registry.

scripts/push-images runs push_images (python -m bftools.release.push_images); docs/registry.md describes the
registry side (Zot).
"""
