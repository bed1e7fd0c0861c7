"""One module per method: its name, its settings (its section of `<config>.tune`) and where its code lives,
registered when the module is first imported (pinpoint.tuning.METHODS imports it on first use).

No torch here, and no module names another's but where it means to (random reads SPT's settings): a stage
that runs one method imports that method's module and nothing of the others', so adding a method (a module
here, one beside it in pinpoint/tuning/) leaves every existing stage's deps as they were.
"""
