"""A complete, valid run summary for tests that build results folders by hand (a copy per test
file drifted apart; the store's type checks read every key)."""

SUMMARY = {
    "batch_size": 64, "chance": 0.16666666666666666, "cudnn_eligible": True,
    "dataset": "synthetic", "device": "CPU", "finished_at": "2026-11-25T15:48:58+00:00",
    "gpus": [], "higher_is_better": False, "jit": False, "layers": 1, "length": 10, "lr": 0.01,
    "metric": "mse", "model": "lstm", "n_test": 64, "n_train": 640, "n_val": 64,
    "paper_metrics": {}, "param_budget": None, "params": 116, "plugins": {},
    "precision": "float32", "reason": None, "score": 0.5, "seconds_to_solve": None, "seed": 0,
    "solved": False, "solved_at": 0.01, "started_at": "2026-11-25T15:48:51+00:00",
    "status": "completed", "steps": 10, "steps_to_solve": None, "steps_trained": 10,
    "task": "adding", "task_params": {"length": 10, "variant": "half"}, "test_loss": 0.08,
    "test_metric": 0.08, "throughput": 1000.0, "traceback": None, "train_seconds": 1.0,
    "units": 4, "val_metric": 0.08, "versions": {}, "wall_seconds": 1.5,
}
