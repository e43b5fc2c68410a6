"""Train an SGD classifier on a CSV table: a script for command jobs (mlbench or Azure ML)."""

import argparse
import os
import pickle

import pandas as pd
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import mlbench

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="a CSV file whose last column is the label")
parser.add_argument("--learning-rate", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--model-dir", default=None)
parser.add_argument("--log-model", action="store_true", help="log it as an MLflow model")
args = parser.parse_args()

table = pd.read_csv(args.data)
X, y = table.iloc[:, :-1].to_numpy(), table.iloc[:, -1].to_numpy()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
model = SGDClassifier(learning_rate="constant", eta0=args.learning_rate, random_state=0)
for epoch in range(args.epochs):
    model.partial_fit(X_train, y_train, classes=sorted(set(y)))
    mlbench.log_metric("accuracy", model.score(X_test, y_test), step=epoch)
print(f"accuracy {model.score(X_test, y_test):.3f} (run {os.environ.get('MLFLOW_RUN_ID')})")
if args.log_model:  # to the job's run: then `mlbench model register NAME --job ID`
    import mlflow.sklearn

    with mlflow.start_run():  # the job's run (MLFLOW_RUN_ID)
        mlflow.sklearn.log_model(model, name="model", input_example=X_test[:2])
if args.model_dir:
    with open(os.path.join(args.model_dir, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
