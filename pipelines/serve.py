"""Serve a trained detector over REST, guarded (``autoencoders/deploy/rest.py``):
``python -m pipelines.serve model_uri=<uri> [host=127.0.0.1] [port=5001] [max_rows=10000]``."""

from __future__ import annotations

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    from omegaconf import DictConfig

    from pipelines import hydra_glue as glue


def serve(cfg: DictConfig) -> None:
    """Load the detector (a one-line error when the URI names none), then answer until stopped."""
    with libraries_loading():
        import uvicorn

        from autoencoders.deploy.batch import load_model
        from autoencoders.deploy.rest import scoring_app

    cfg = glue.checked(cfg, "serve")
    app = scoring_app(load_model(cfg.model_uri, cfg.tracking.uri), int(cfg.max_rows))
    uvicorn.run(app, host=cfg.host, port=int(cfg.port), log_level="warning")


@glue.stage_main("serve")
def main(cfg: DictConfig) -> None:
    with glue.one_line_errors():
        serve(cfg)


if __name__ == "__main__":
    main()
