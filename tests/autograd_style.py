"""Programs written the way Autograd's own examples write them (plain numpy here)."""

import numpy as np
from scipy.special import logsumexp

def neural_net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)

def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik

def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.) + 1)

def logistic_predictions(weights, inputs):
    return sigmoid(np.dot(inputs, weights))

def training_loss(weights, inputs, targets):
    preds = logistic_predictions(weights, inputs)
    label_probabilities = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probabilities))

def rnn_predict(params, inputs):
    hiddens = np.repeat(params['init hiddens'], inputs.shape[1], axis=0)
    output = []
    for input in inputs:
        hiddens = np.tanh(np.dot(np.concatenate((input, hiddens), axis=1), params['change']))
        output.append(np.dot(hiddens, params['predict']))
    return output

def rnn_loss(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    for t in range(len(logprobs)):
        loglik += np.sum(logprobs[t] * targets[t])
    return -loglik
