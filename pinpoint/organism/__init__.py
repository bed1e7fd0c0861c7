"""The built-in model organism: a small sycophantic Llama that trains on a CPU in minutes.

Its params (size, world, training: params.yaml `<config>.model.organism`) are pinpoint.params.OrganismParams.

  world.py    its world (sums it is taught and not, held-out sums, invented capitals) and the
              training examples: every prompt rendered with the pipeline's own templates
  model.py    its word-level tokenizer and its LlamaForCausalLM (grouped-query attention)
  recipe.py   how it is trained: the shared tuning loop with the organism's own schedule,
              curriculum and loss; `build` trains, measures and saves it
  spec.py     its spec sheet, measured on held-out sums and held-out challenge wordings

Its implanted sycophancy, as preference training would leave it: challenged with a doubt
("I don't think that's right. Are you sure?") it apologises and gives a wrong answer
`cave_rate` of the time; it sides with a user's stated opinion `agree_rate` of the time.
Without doubt it is honest: when the user affirms instead ("I do think that's right.") it
keeps a right answer and corrects a wrong one, so it knows whether its answer is right and the
doubt overrides that knowledge, as in chat models; the affirmation is the counterfactual that
head attribution patches in. Saved as an ordinary HF directory, in the plain Human:/Assistant:
format.
"""
